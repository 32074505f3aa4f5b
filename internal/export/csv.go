package export

import (
	"encoding/csv"
	"io"
	"regexp"
)

// CSV is encoding/csv with every cell a spreadsheet could run as a
// formula neutralised, per OWASP's CSV-injection guidance: a cell that
// starts with =, +, -, @, a tab or a carriage return gets a leading
// apostrophe. Text in a statement can come from a client (a transfer's
// metadata names its campaign and commitment), and the byte-order mark
// invites opening the file in a spreadsheet. Plain decimal numbers, a
// negative balance among them, stay numbers.
type CSV struct{ *csv.Writer }

// NewCSV is a CSV writer on w.
func NewCSV(w io.Writer) CSV { return CSV{csv.NewWriter(w)} }

func (w CSV) Write(record []string) error {
	out := make([]string, len(record))
	for i, c := range record {
		out[i] = neutralise(c)
	}
	return w.Writer.Write(out)
}

var plainNumber = regexp.MustCompile(`^-?[0-9]+(\.[0-9]+)?$`)

func neutralise(cell string) string {
	if cell == "" || plainNumber.MatchString(cell) {
		return cell
	}
	switch cell[0] {
	case '=', '+', '-', '@', '\t', '\r':
		return "'" + cell
	}
	return cell
}
