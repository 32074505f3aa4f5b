package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"testing"

	"github.com/crowdledger/crowdledger/audit"
	"github.com/crowdledger/crowdledger/internal/pgtest"
	"github.com/crowdledger/crowdledger/internal/pii"
	"github.com/crowdledger/crowdledger/migrations"
)

// realBinary is the crowdledger binary built for a test, with the
// environment of one service instance on a migrated database and an
// operator key: what the crash and restart tests start, kill and query.
type realBinary struct {
	t     *testing.T
	path  string
	env   []string
	base  string // the service's URL once it serves
	key   string // an operator key
	co    string // a compliance key, held by another person
	dbURL string
}

func buildBinary(t *testing.T, dbURL string, extraEnv ...string) *realBinary {
	t.Helper()
	b := &realBinary{t: t, path: filepath.Join(t.TempDir(), "crowdledger"), dbURL: dbURL}
	if out, err := exec.Command("go", "build", "-o", b.path, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	addr := freeAddr(t)
	b.base = "http://" + addr
	seed, _ := audit.GenerateSeed()
	b.env = append(os.Environ(), "DATABASE_URL="+dbURL, "LISTEN_ADDR="+addr, "LOG_LEVEL=error", "AUDIT_SIGNING_KEY="+seed,
		"PII_KEYS=k1:"+pii.NewKey(), "PII_LOOKUP_KEY="+pii.NewKey(), "RATE_LIMIT_RPS=0")
	b.env = append(b.env, extraEnv...)
	b.run("migrate")
	b.key = b.createKey("operator", "ops-1")
	b.co = b.createKey("compliance", "compliance-1")
	return b
}

// createKey makes an API key with the CLI.
func (b *realBinary) createKey(role, subject string) string {
	b.t.Helper()
	return keyIn(b.t, b.run("keys", "create", "--role", role, "--subject", subject, "--name", "test"))
}

var keyLine = regexp.MustCompile(`key:\s+(cl_\S+)`)

// keyIn is the API key in what `crowdledger keys create` printed.
func keyIn(t testing.TB, out string) string {
	t.Helper()
	m := keyLine.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no key in %q", out)
	}
	return m[1]
}

// run runs a subcommand to completion and returns its output.
func (b *realBinary) run(args ...string) string {
	b.t.Helper()
	cmd := exec.Command(b.path, args...)
	cmd.Env = b.env
	out, err := cmd.CombinedOutput()
	if err != nil {
		b.t.Fatalf("%v: %v\n%s", args, err, out)
	}
	return string(out)
}

// serve starts the service; the caller stops it.
func (b *realBinary) serve() *exec.Cmd {
	b.t.Helper()
	srv := exec.Command(b.path, "serve")
	// serve runs as the service role, as `make run` runs it.
	srv.Env = append(slices.Clone(b.env), "DATABASE_URL="+pgtest.AsRole(b.dbURL, migrations.DefaultServiceRole))
	if err := srv.Start(); err != nil {
		b.t.Fatal(err)
	}
	return srv
}
