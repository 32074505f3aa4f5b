package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/crowdledger/crowdledger/internal/pgtest"
)

// TestReadmeQuickStart runs the README's quick start, as written, with
// bash, curl and jq against the real binary on a fresh database, and checks
// it prints what the README says it prints.
func TestReadmeQuickStart(t *testing.T) {
	for _, tool := range []string{"bash", "curl", "jq"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("the quick start needs %s (make tools installs it): %v", tool, err)
		}
	}
	raw, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)<!-- quickstart -->\n```sh\n(.*?)```").FindSubmatch(raw)
	if m == nil {
		t.Fatal("no quick start block in the README")
	}
	db := pgtest.NewDB(t)
	bin := buildBinary(t, db.URL)
	srv := bin.serve()
	defer func() {
		srv.Process.Signal(syscall.SIGTERM)
		srv.Wait()
	}()
	waitReady(t, bin.base)
	// The block calls bin/crowdledger from the repository's root, as after make build.
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, "bin"), 0o755)
	if err := os.Symlink(bin.path, filepath.Join(dir, "bin", "crowdledger")); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("bash", "-euo", "pipefail", "-c", string(m[1]))
	cmd.Dir = dir
	cmd.Env = append(bin.env, "BASE="+bin.base)
	out, err := cmd.CombinedOutput()
	t.Logf("quick start:\n%s", out)
	if err != nil {
		t.Fatalf("the quick start failed: %v", err)
	}
	for _, want := range []string{"campaign: live\n", "pledged: 198.00\n", "198.00 live\n", "available: 302.00\n", "event: commitment.created\n"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("the quick start did not print %q", want)
		}
	}
}
