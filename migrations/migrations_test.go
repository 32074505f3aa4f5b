package migrations

import (
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite SHA256SUMS")

// TestAppliedFilesDoNotChange pins every migration file's hash: a migration
// that has been applied anywhere must never change (fixes are new files).
// Run `go test ./migrations -update` only when adding a new file.
func TestAppliedFilesDoNotChange(t *testing.T) {
	names, err := fs.Glob(files, "*.sql")
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		data, _ := files.ReadFile(n)
		sum := sha256.Sum256(data)
		fmt.Fprintf(&b, "%s  %s\n", hex.EncodeToString(sum[:]), n)
	}
	if *update {
		if err := os.WriteFile("SHA256SUMS", []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile("SHA256SUMS")
	if err != nil {
		t.Fatalf("read SHA256SUMS (create it with -update): %v", err)
	}
	if got := b.String(); !strings.HasPrefix(got, string(want)) {
		t.Errorf("an existing migration changed; add a new migration instead.\n got:\n%s\nwant prefix:\n%s", got, want)
	} else if got != string(want) {
		t.Errorf("a new migration is not in SHA256SUMS; run go test ./migrations -update")
	}
	if Latest() != int32(len(names)) {
		t.Errorf("Latest() = %d, want %d", Latest(), len(names))
	}
}
