package export

import "testing"

func TestNeutralise(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"=HYPERLINK(\"http://x\",\"y\")", "'=HYPERLINK(\"http://x\",\"y\")"},
		{"+1+1", "'+1+1"},
		{"-2+3", "'-2+3"},
		{"@SUM(A1)", "'@SUM(A1)"},
		{"\tx", "'\tx"},
		{"\rx", "'\rx"},
		{"-100.00", "-100.00"}, // a negative balance stays a number
		{"649.25", "649.25"},
		{"campaign 青稞", "campaign 青稞"},
		{"", ""},
	} {
		if got := neutralise(tc.in); got != tc.want {
			t.Errorf("neutralise(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
