package canonjson

import (
	"encoding/json"
	"testing"
	"unicode/utf8"

	"github.com/gowebpki/jcs"
)

// FuzzJCS: wherever gowebpki/jcs accepts valid JSON, JCS writes the same
// bytes. (The library also "canonicalises" some invalid JSON, `{"0` to
// `{}`, and passes invalid UTF-8 through where JCS writes U+FFFD; the
// audit trail only ever holds valid JSON in valid UTF-8.)
func FuzzJCS(f *testing.F) {
	for _, s := range []string{
		`{"z":1,"a":"<b>&</b>","amount":1.50,"big":1e2,"é":"x","\ud83d\ude00":"emoji","€":"euro","nested":{"y":[1,2.0,"三"],"b":true}}`,
		`{"n":-0,"m":1e21,"s":1e-7,"t":0.000001,"u":123456789012345680000,"c":"\u0001\u001f\u007f\u2028","e":""}`,
		`[1,"x",null,false,{"\uffff":1,"\ud800\udc00":2}]`, `"plain"`, `3.14`, `{}`, `[]`, `{"a":{"b":{"c":[[]]}}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		if !json.Valid(in) || !utf8.Valid(in) { // I-JSON: what the trail holds (jsonb text, json.Marshal output)
			return
		}
		want, err := jcs.Transform(in)
		if err != nil {
			return
		}
		got, err := JCS(in)
		if err != nil {
			t.Fatalf("JCS(%q) failed where the library gave %q: %v", in, want, err)
		}
		if string(got) != string(want) {
			t.Fatalf("JCS(%q)\n got %s\nwant %s", in, got, want)
		}
	})
}

var event = []byte(`{"v":2,"seq":123456,"at":"2026-12-01T22:42:18.123456Z","actor_key_id":"6f1c2b7e-6a43-4fd1-9c35-2f3f0c1e8a11","actor_role":"investor","actor_subject":"0b6a4c3e-6a43-4fd1-9c35-2f3f0c1e8a11","action":"campaign.commit","objects":["0b6a4c3e-6a43-4fd1-9c35-2f3f0c1e8a11","6f1c2b7e-6a43-4fd1-9c35-2f3f0c1e8a11"],"request_id":"8d5224c337d2ce481ee25763","facts":{"amount":"100.00","currency":"CNY","tier":"unit","quantity":1,"pending_transfer_id":"01a233c1-ba4a-70c1-a588-ab80f5bf334d","role":"follower"}}`)

// BenchmarkJCS: a commitment's audit event, the chainer's per-event work.
func BenchmarkJCS(b *testing.B) {
	for _, bc := range []struct {
		name string
		fn   func([]byte) ([]byte, error)
	}{{"canonjson", JCS}, {"gowebpki", jcs.Transform}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := bc.fn(event); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
