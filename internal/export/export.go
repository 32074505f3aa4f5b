// Package export makes long downloads whose end can be checked. A report
// streams for as long as it takes, so a connection cut halfway would leave
// the reader a file that looks whole; instead every format ends with a
// trailer that carries the number of rows and the SHA-256 of every byte
// before the trailer. A file without its trailer, or whose bytes do not
// hash to it, was cut short or changed. Check verifies any of the forms.
package export

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"regexp"
	"strconv"
)

// Digest passes writes through to w and keeps a SHA-256 of them and a
// count of the rows its writer reports.
type Digest struct {
	w    io.Writer
	h    hash.Hash
	rows int64
}

// New returns a Digest writing to w.
func New(w io.Writer) *Digest { return &Digest{w: w, h: sha256.New()} }

func (d *Digest) Write(p []byte) (int, error) {
	n, err := d.w.Write(p)
	d.h.Write(p[:n])
	return n, err
}

// Row counts one row of the export's body.
func (d *Digest) Row() { d.rows++ }

// Rows is the number of rows counted so far.
func (d *Digest) Rows() int64 { return d.rows }

// Sum is the hex SHA-256 of everything written so far.
func (d *Digest) Sum() string { return hex.EncodeToString(d.h.Sum(nil)) }

// CSVTrailer is the last record of a CSV export (after a CRLF): its cells
// name the rows and the digest of the bytes before the record.
func (d *Digest) CSVTrailer() []string {
	return []string{"# end", "rows=" + strconv.FormatInt(d.rows, 10), "sha256=" + d.Sum()}
}

// JSONTrailer is the last member of a JSON export's object, written just
// before its closing brace: `,"trailer":{"rows":N,"sha256":"..."}`.
func (d *Digest) JSONTrailer() string {
	return fmt.Sprintf(`,"trailer":{"rows":%d,"sha256":%q}`, d.rows, d.Sum())
}

// JSONLinesTrailer is the last line of a JSON Lines export.
func (d *Digest) JSONLinesTrailer() string {
	return fmt.Sprintf(`{"type":"trailer","rows":%d,"sha256":%q}`+"\n", d.rows, d.Sum())
}

// XMLTrailer is a comment after an XML export's root element (XML allows
// comments there, and schema validation ignores them).
func (d *Digest) XMLTrailer() string {
	return fmt.Sprintf("<!-- end rows=%d sha256=%s -->\n", d.rows, d.Sum())
}

// ErrCutShort says a file has no trailer or does not match it.
var ErrCutShort = errors.New("export cut short or altered")

var trailers = []*regexp.Regexp{
	regexp.MustCompile(`(?:^|\r\n)(# end,rows=(\d+),sha256=([0-9a-f]{64})\r\n)$`),
	regexp.MustCompile(`(,"trailer":\{"rows":(\d+),"sha256":"([0-9a-f]{64})"\}\}\n)$`),
	regexp.MustCompile(`(?:^|\n)(\{"type":"trailer","rows":(\d+),"sha256":"([0-9a-f]{64})"\}\n)$`),
	regexp.MustCompile(`(<!-- end rows=(\d+) sha256=([0-9a-f]{64}) -->\n)$`),
}

// Check verifies a whole export file against its trailer and returns the
// rows the trailer names.
func Check(file []byte) (int64, error) {
	for _, re := range trailers {
		m := re.FindSubmatchIndex(file)
		if m == nil {
			continue
		}
		start := m[2]
		rows, err := strconv.ParseInt(string(file[m[4]:m[5]]), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%w: rows: %v", ErrCutShort, err)
		}
		sum := sha256.Sum256(file[:start])
		if !bytes.Equal([]byte(hex.EncodeToString(sum[:])), file[m[6]:m[7]]) {
			return 0, fmt.Errorf("%w: the bytes before the trailer do not hash to it", ErrCutShort)
		}
		return rows, nil
	}
	return 0, fmt.Errorf("%w: no trailer at the end", ErrCutShort)
}
