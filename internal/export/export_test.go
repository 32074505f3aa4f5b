package export

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

func TestTrailers(t *testing.T) {
	for _, tc := range []struct {
		name  string
		body  string
		close func(d *Digest) string
	}{
		{"csv", "\ufeffa,b\r\n1,2\r\n", func(d *Digest) string { return "# end,rows=1,sha256=" + d.Sum() + "\r\n" }},
		{"json", `{"entries":[1]`, func(d *Digest) string { return d.JSONTrailer() + "}\n" }},
		{"json lines", "{\"type\":\"header\"}\n{\"type\":\"link\"}\n", func(d *Digest) string { return d.JSONLinesTrailer() }},
		{"xml", "<?xml version=\"1.0\"?>\n<Document></Document>\n", func(d *Digest) string { return d.XMLTrailer() }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			d := New(&buf)
			io.WriteString(d, tc.body)
			d.Row()
			buf.WriteString(tc.close(d))
			file := buf.Bytes()
			if rows, err := Check(file); err != nil || rows != 1 {
				t.Fatalf("whole file: %d rows, %v\n%s", rows, err, file)
			}
			for n := 0; n < len(file); n++ {
				if _, err := Check(file[:n]); !errors.Is(err, ErrCutShort) {
					t.Fatalf("cut at %d of %d: %v", n, len(file), err)
				}
			}
			altered := bytes.Clone(file)
			altered[len(tc.body)/2] ^= 1
			if _, err := Check(altered); !errors.Is(err, ErrCutShort) {
				t.Errorf("altered byte: %v", err)
			}
		})
	}
}
