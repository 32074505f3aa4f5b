package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// privatePostgres starts a throwaway PostgreSQL cluster this test may stop
// and start at will, returning its URL and pg_ctl for it.
func privatePostgres(t *testing.T) (string, func(args ...string)) {
	t.Helper()
	p := newPostgresNode(t)
	return p.primaryURL(), func(args ...string) { p.ctl(0, args...) }
}

// pgPair is a primary and a synchronous standby started from the installed
// PostgreSQL binaries on free ports: PostgreSQL's own streaming replication,
// as a production pair would run it (there under a manager such as
// Patroni; here the test kills, promotes and rebuilds by hand).
type pgPair struct {
	t       *testing.T
	bin     string
	root    string
	as      []string // runuser -u postgres, when the test runs as root
	nodes   [2]pgNode
	primary int
}

type pgNode struct {
	data string
	port int
}

func newPostgresPair(t *testing.T) *pgPair {
	t.Helper()
	p := newPostgresNode(t)
	p.rebuildStandby()
	return p
}

// newPostgresNode is the pair's first node alone, initialised and started.
func newPostgresNode(t *testing.T, settings ...string) *pgPair {
	t.Helper()
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Strings(dirs)
	if len(dirs) == 0 {
		t.Skip("no PostgreSQL server binaries to start a private primary and standby")
	}
	root, err := os.MkdirTemp("", "crowdledger-pair-")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(root, 0o755)
	p := &pgPair{t: t, bin: dirs[len(dirs)-1], root: root}
	if os.Geteuid() == 0 { // initdb refuses root
		if _, err := user.Lookup("postgres"); err != nil {
			t.Skip("running as root without a postgres user")
		}
		exec.Command("chown", "postgres", root).Run()
		p.as = []string{"runuser", "-u", "postgres", "--"}
	}
	for i := range p.nodes {
		l, _ := net.Listen("tcp", "127.0.0.1:0")
		p.nodes[i] = pgNode{data: filepath.Join(root, fmt.Sprint("node", i)), port: l.Addr().(*net.TCPAddr).Port}
		l.Close()
	}
	t.Cleanup(func() {
		for i := range p.nodes {
			p.cmd(p.bin+"/pg_ctl", "-D", p.nodes[i].data, "-m", "immediate", "stop").Run()
		}
		os.RemoveAll(root)
	})
	p.run(p.bin+"/initdb", "-D", p.nodes[0].data, "-U", "postgres", "--auth=trust", "-E", "UTF8")
	p.configure(0, settings...)
	p.start(0)
	return p
}

// configure appends settings (name = 'value' lines) to node i's
// postgresql.auto.conf, which the server reads at start.
func (p *pgPair) configure(i int, settings ...string) {
	p.t.Helper()
	if len(settings) == 0 {
		return
	}
	f, err := os.OpenFile(filepath.Join(p.nodes[i].data, "postgresql.auto.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		p.t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(strings.Join(settings, "\n") + "\n"); err != nil {
		p.t.Fatal(err)
	}
}

func (p *pgPair) cmd(args ...string) *exec.Cmd {
	full := append(append([]string{}, p.as...), args...)
	return exec.Command(full[0], full[1:]...)
}

func (p *pgPair) run(args ...string) string {
	p.t.Helper()
	out, err := p.cmd(args...).CombinedOutput()
	if err != nil {
		p.t.Fatalf("%v: %v\n%s", args, err, out)
	}
	return string(out)
}

// start starts node i. Every node is configured as either role may need:
// replication slots and senders for when it is the primary, hot standby
// for when it follows.
func (p *pgPair) start(i int) {
	p.t.Helper()
	p.ctl(i, "start")
}

// ctl runs pg_ctl on node i (start, stop -m immediate, ...) with the
// node's port and settings.
func (p *pgPair) ctl(i int, args ...string) {
	p.t.Helper()
	n := p.nodes[i]
	p.run(append([]string{p.bin + "/pg_ctl", "-D", n.data, "-w", "-l", n.data + ".log", "-o", fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 "+
		"-c wal_level=replica -c max_wal_senders=5 -c hot_standby=on -c synchronous_commit=on -c wal_keep_size=512MB -c fsync=on -c wal_retrieve_retry_interval=200ms", n.port, p.root)},
		args...)...)
}

// sql runs a statement on node i as the superuser and returns its output.
func (p *pgPair) sql(i int, stmt string) string {
	p.t.Helper()
	return strings.TrimSpace(p.run(p.bin+"/psql", "-h", "127.0.0.1", "-p", strconv.Itoa(p.nodes[i].port), "-U", "postgres", "-d", "postgres", "-Atc", stmt))
}

// url is the multi-host URL the service is given: it connects to whichever
// node accepts writes, so after a promotion it finds the new primary.
func (p *pgPair) url() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d,127.0.0.1:%d/postgres?sslmode=disable&target_session_attrs=read-write",
		p.nodes[0].port, p.nodes[1].port)
}

// primaryURL is the current primary alone.
func (p *pgPair) primaryURL() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", p.nodes[p.primary].port)
}

// killPrimary kills the primary's postmaster with SIGKILL, as a machine
// that dies would stop it, and waits for its backends to go.
func (p *pgPair) killPrimary() {
	p.t.Helper()
	n := p.nodes[p.primary]
	raw, err := os.ReadFile(filepath.Join(n.data, "postmaster.pid"))
	if err != nil {
		p.t.Fatal(err)
	}
	pid, _ := strconv.Atoi(strings.SplitN(string(raw), "\n", 2)[0])
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		p.t.Fatal(err)
	}
	// The backends notice their postmaster's death and exit; the port is
	// free once they have.
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", n.port)); err != nil {
			break
		} else {
			c.Close()
		}
		if time.Now().After(deadline) {
			p.t.Fatal("the killed primary's port is still open")
		}
	}
}

// promote makes the standby the primary.
func (p *pgPair) promote() {
	p.t.Helper()
	p.primary = 1 - p.primary
	p.run(p.bin+"/pg_ctl", "-D", p.nodes[p.primary].data, "-w", "promote")
}

// rebuildStandby makes the other node a fresh standby of the primary (a
// base backup streamed from it) and then makes the primary wait for it on
// every commit: synchronous_standby_names, so no commit the service
// acknowledges exists on one machine only.
func (p *pgPair) rebuildStandby() {
	p.t.Helper()
	s := 1 - p.primary
	n := p.nodes[s]
	p.cmd(p.bin+"/pg_ctl", "-D", n.data, "-m", "immediate", "stop").Run()
	p.run("rm", "-rf", n.data)
	p.run(p.bin+"/pg_basebackup", "-h", "127.0.0.1", "-p", strconv.Itoa(p.nodes[p.primary].port), "-U", "postgres", "-D", n.data, "-X", "stream", "-R", "-c", "fast")
	// The standby's copy of the settings must not make it wait for a
	// standby of its own once it is promoted: that is set when it has one.
	p.run("sed", "-i", "/synchronous_standby_names/d", filepath.Join(n.data, "postgresql.auto.conf"))
	p.start(s)
	p.sql(p.primary, `ALTER SYSTEM SET synchronous_standby_names = '*'`)
	p.sql(p.primary, `SELECT pg_reload_conf()`)
	for deadline := time.Now().Add(30 * time.Second); p.sql(p.primary, `SELECT coalesce(string_agg(sync_state, ','), '') FROM pg_stat_replication`) != "sync"; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			p.t.Fatal("the standby did not become synchronous")
		}
	}
}
