package canonjson

import (
	"bytes"
	"errors"
	"testing"
)

func TestObject(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
		depth          int
		err            error
	}{
		{"empty", "", "{}", 1, nil},
		{"blank", " \n\t", "{}", 1, nil},
		{"sorted and compact", `{ "b": 1, "a": [true, null, {"d": "x", "c": 2.50}] }`, `{"a":[true,null,{"c":2.50,"d":"x"}],"b":1}`, 3, nil},
		{"numbers as written", `{"n":1E+02,"m":-0,"k":123456789012345678901234567890}`, `{"k":123456789012345678901234567890,"m":-0,"n":1E+02}`, 1, nil},
		{"last of a repeated key", `{"a":1,"b":2,"a":{"z":3}}`, `{"a":{"z":3},"b":2}`, 2, nil},
		{"html-safe escapes", `{"s":"<a href=\"x\">&</a>"}`, `{"s":"\u003ca href=\"x\"\u003e\u0026\u003c/a\u003e"}`, 1, nil},
		{"unicode kept, separators escaped", `{"名":"众筹\u2028"}`, `{"名":"众筹\u2028"}`, 1, nil},
		{"escapes decoded then re-encoded", `{"\u0061":"\/\u00e9\t"}`, `{"a":"/é\t"}`, 1, nil},
		{"lone surrogate", `{"s":"\ud800x"}`, `{"s":"` + "\ufffd" + `x"}`, 1, nil},
		{"invalid utf-8", "{\"s\":\"\xff\"}", `{"s":"` + "\ufffd" + `"}`, 1, nil},
		{"empty containers", `{"a":{},"b":[]}`, `{"a":{},"b":[]}`, 2, nil},
		{"array", `[1]`, "", 0, ErrNotObject},
		{"null", `null`, "", 0, ErrNotObject},
		{"two objects", `{} {}`, "", 0, ErrNotObject},
		{"truncated", `{"a":`, "", 0, ErrNotObject},
		{"trailing comma", `{"a":1,}`, "", 0, ErrNotObject},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, d, err := Object([]byte(tc.in))
			if !errors.Is(err, tc.err) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			if string(got) != tc.want || d != tc.depth {
				t.Fatalf("Object(%q) = %s, %d; want %s, %d", tc.in, got, d, tc.want, tc.depth)
			}
		})
	}
}

// FuzzObject holds the fast path to the reference form byte for byte: a
// difference would change the hash of an audit event already recorded.
func FuzzObject(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":1,"a":2}`, `{"b":[{"c":"\u003c\ud83d\ude00"}],"a":null}`, "{\"\xe2\x80\xa8\":1.0e-5}",
		`{"x":{"y":{"z":[[[]]]}}}`, `{} ]`, `{"k":"\u0000\u001f"}`, " \u00a0"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		got, gd, gerr := Object(raw)
		if len(bytes.TrimSpace(raw)) == 0 {
			return
		}
		want, wd, werr := reference(raw)
		if (gerr == nil) != (werr == nil) || !bytes.Equal(got, want) || gd != wd {
			t.Fatalf("Object(%q) = %s, %d, %v; reference %s, %d, %v", raw, got, gd, gerr, want, wd, werr)
		}
	})
}

func BenchmarkObject(b *testing.B) {
	raw := []byte(`{"entry_id":"0193a8f2-4c1e-7b3a-9f00-1c2d3e4f5a6b","idempotency_key":"k-1","transfers":[{"id":"0193a8f2-4c1e-7b3a-9f00-1c2d3e4f5a6c",
		"kind":"pending","debit_account_id":"0193a8f2-4c1e-7b3a-9f00-1c2d3e4f5a6d","credit_account_id":"0193a8f2-4c1e-7b3a-9f00-1c2d3e4f5a6e",
		"amount":"100.00","currency":"CNY","code":"commitment"}],"campaign_id":"0193a8f2-4c1e-7b3a-9f00-1c2d3e4f5a6f","名称":"众筹"}`)
	for _, impl := range []struct {
		name string
		fn   func([]byte) ([]byte, int, error)
	}{
		{"fast", func(r []byte) ([]byte, int, error) { return Object(r) }},
		{"reference", func(r []byte) ([]byte, int, error) { return reference(r) }},
	} {
		b.Run(impl.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := impl.fn(raw); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
