package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestPointInTimeRestore is the restore drill docs/operations.md describes:
// a primary archiving its WAL (archive_command), a base backup
// (pg_basebackup), then more commitments, a recovery target time, and more
// commitments after it. The base backup restored with the archived WAL to
// that instant (restore_command, recovery_target_time) holds exactly the
// commitments made before it, and `crowdledger check` and `crowdledger
// audit verify` pass on the restored copy.
func TestPointInTimeRestore(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a private PostgreSQL and restores it")
	}
	archive, err := os.MkdirTemp("", "crowdledger-wal-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(archive) })
	os.Chmod(archive, 0o777)
	p := newPostgresNode(t, "archive_mode = on", fmt.Sprintf("archive_command = 'cp %%p %s/%%f'", archive), "archive_timeout = 60")
	bin := buildBinary(t, p.primaryURL())
	srv := bin.serve()
	stopped := false
	stop := func() {
		if !stopped {
			srv.Process.Signal(syscall.SIGTERM)
			srv.Wait()
			stopped = true
		}
	}
	defer stop()
	waitReady(t, bin.base)
	b := &bencher{demoClient: &demoClient{ctx: context.Background(), base: bin.base, op: bin.key, co: bin.co, out: io.Discard, wait: time.Hour,
		http: &http.Client{Timeout: 10 * time.Second}}}
	if err := b.setup("hot", 3, 1); err != nil {
		t.Fatal(err)
	}
	commit := func(n int) {
		for i := range n {
			if _, err := b.commit(b.invs[i%3].key, b.campaigns[0], obj{"tier": "unit", "quantity": 1}, 201); err != nil {
				t.Fatal(err)
			}
		}
	}
	commit(5)
	backup := filepath.Join(p.root, "base")
	p.run(p.bin+"/pg_basebackup", "-h", "127.0.0.1", "-p", fmt.Sprint(p.nodes[0].port), "-U", "postgres", "-D", backup, "-X", "stream", "-c", "fast")
	commit(5)
	// The chainer links the commitments' events before the target, so the
	// restored chain is whole.
	for deadline := time.Now().Add(20 * time.Second); p.sql(0, `SELECT count(*) FROM audit_events e WHERE NOT EXISTS (SELECT 1 FROM audit_chain c WHERE c.event_seq = e.seq)`) != "0"; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the audit chainer did not link the events")
		}
	}
	target := p.sql(0, `SELECT now()`)
	time.Sleep(time.Second)
	commit(5) // after the target: not in the restored copy
	stop()
	p.sql(0, `SELECT pg_switch_wal()`)
	for deadline := time.Now().Add(20 * time.Second); p.sql(0, `SELECT failed_count = 0 AND last_archived_wal IS NOT NULL AND last_archived_wal >= pg_walfile_name(pg_current_wal_lsn() - 1) FROM pg_stat_archiver`) != "t"; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("WAL not archived: %s", p.sql(0, `SELECT * FROM pg_stat_archiver`))
		}
	}

	// Restore: the base backup as node 1, the archived WAL replayed up to
	// the target, then promoted.
	p.run("cp", "-a", backup, p.nodes[1].data)
	p.configure(1, "archive_mode = off", fmt.Sprintf("restore_command = 'cp %s/%%f %%p'", archive),
		fmt.Sprintf("recovery_target_time = '%s'", target), "recovery_target_action = 'promote'")
	p.run("touch", filepath.Join(p.nodes[1].data, "recovery.signal"))
	p.start(1)
	for deadline := time.Now().Add(30 * time.Second); p.sql(1, `SELECT pg_is_in_recovery()`) != "f"; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the restored copy did not finish recovery")
		}
	}
	restored := *bin
	restored.env = append(slices.Clone(bin.env), "DATABASE_URL="+fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", p.nodes[1].port))
	if n := p.sql(1, `SELECT count(*) FROM commitments`); n != "10" {
		t.Errorf("the copy restored to %s holds %s commitments, want the 10 made before it", target, n)
	}
	restored.run("check")
	export := filepath.Join(t.TempDir(), "audit.jsonl")
	if err := os.WriteFile(export, []byte(restored.run("audit", "export")), 0o600); err != nil {
		t.Fatal(err)
	}
	pub := strings.Fields(restored.run("audit", "pubkey"))[1]
	out := restored.run("audit", "verify", export, "--public-key", pub)
	t.Logf("restored to %s: 10 commitments; audit verify: %s", target, strings.TrimSpace(out))
}
