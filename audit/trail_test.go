package audit_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/crowdledger/crowdledger/audit"
	"github.com/crowdledger/crowdledger/internal/pgtest"
)

func newTrail(t *testing.T) (*audit.Trail, *pgtest.DB) {
	t.Helper()
	db := pgtest.NewDB(t)
	seed, err := audit.GenerateSeed()
	if err != nil {
		t.Fatal(err)
	}
	s, err := audit.ParseSigner(seed)
	if err != nil {
		t.Fatal(err)
	}
	tr := audit.NewTrail(db.Pool, s)
	tr.CheckpointEvery = 5
	return tr, db
}

// appendEvents writes n events, each in its own transaction, from several
// goroutines at once, as the service's writers do.
func appendEvents(t *testing.T, db *pgtest.DB, n int) {
	t.Helper()
	ctx := audit.WithActor(context.Background(), audit.Actor{KeyID: uuid.New(), Role: "operator", Subject: ""}, "req-1")
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			ev, err := audit.New(ctx, "ledger.entry.post", []string{fmt.Sprint("entry-", i)}, map[string]any{"amount": fmt.Sprintf("%d.00", i), "n": i})
			if err == nil {
				err = pgx.BeginFunc(ctx, db.Pool, func(tx pgx.Tx) error { return audit.Append(ctx, tx, ev) })
			}
			errs <- err
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}

// link runs chainer rounds until every committed event is linked. A round
// links only events whose transactions ended before its snapshot's xmin,
// which other databases' transactions on the same server (parallel tests)
// can hold back for a moment.
func link(t *testing.T, tr *audit.Trail, db *pgtest.DB) int {
	t.Helper()
	total := 0
	deadline := time.Now().Add(20 * time.Second)
	for {
		n, err := tr.Link(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		total += n
		var left int
		if err := db.Pool.QueryRow(context.Background(), `SELECT count(*) FROM audit_events e
			WHERE NOT EXISTS (SELECT 1 FROM audit_chain c WHERE c.event_seq = e.seq) AND e.xid >= 10`).Scan(&left); err != nil {
			t.Fatal(err)
		}
		if left == 0 {
			return total
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d events still unlinked", left)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// tamper runs SQL with triggers disabled, as an attacker with database
// superuser rights could.
func tamper(t *testing.T, db *pgtest.DB, sqls ...string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, db.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `SET session_replication_role = replica`); err != nil {
		t.Fatal(err)
	}
	for _, s := range sqls {
		if _, err := conn.Exec(ctx, s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

func TestChainLinksAndVerifies(t *testing.T) {
	t.Parallel()
	tr, db := newTrail(t)
	appendEvents(t, db, 23)
	if n := link(t, tr, db); n != 23 {
		t.Fatalf("linked %d events, want 23", n)
	}
	rep, err := tr.Verify(context.Background(), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK || rep.Links != 23 || rep.Checkpoints == 0 {
		t.Fatalf("report = %+v", rep)
	}
	// A range in the middle verifies on its own, anchored on the stored hash before it.
	if rep, err := tr.Verify(context.Background(), 6, 15); err != nil || !rep.OK || rep.Links != 10 {
		t.Fatalf("range report = %+v, %v", rep, err)
	}
	// Two chainers at once never fork the chain.
	appendEvents(t, db, 30)
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); _, _ = tr.Link(context.Background()) }()
	}
	wg.Wait()
	link(t, tr, db)
	if rep, _ := tr.Verify(context.Background(), 0, 0); !rep.OK || rep.Links != 53 {
		t.Fatalf("after concurrent chainers: %+v", rep)
	}
	// The database refuses plain changes.
	for _, s := range []string{`UPDATE audit_events SET facts = '{}'`, `DELETE FROM audit_chain`, `DELETE FROM audit_checkpoints`, `TRUNCATE audit_events CASCADE`} {
		if _, err := db.Pool.Exec(context.Background(), s); err == nil {
			t.Errorf("%s succeeded", s)
		}
	}
}

// TestTamperingIsDetectedAndLocated alters, deletes, inserts and reorders
// rows with plain SQL (triggers disabled) and expects Verify to say what
// happened and where.
func TestTamperingIsDetectedAndLocated(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		sql    []string
		relink bool // run the chainer after tampering
		kind   string
		pos    int64 // -1: any position
		seq    int64
	}{
		{"alter an amount", []string{`UPDATE audit_events SET facts = jsonb_set(facts, '{amount}', '"999.00"') WHERE seq = 7`}, false, "hash_mismatch", 7, 7},
		{"alter the actor", []string{`UPDATE audit_events SET actor_role = 'regulator' WHERE seq = 3`}, false, "hash_mismatch", 3, 3},
		{"delete an event", []string{`DELETE FROM audit_events WHERE seq = 9`}, false, "missing_event", 9, 9},
		{"delete a chain row", []string{`DELETE FROM audit_chain WHERE pos = 4`}, false, "missing_position", 4, 0},
		{"reorder two events", []string{
			`UPDATE audit_events SET seq = -1 WHERE seq = 5`, `UPDATE audit_events SET seq = 5 WHERE seq = 6`, `UPDATE audit_events SET seq = 6 WHERE seq = -1`,
		}, false, "hash_mismatch", 5, 5},
		{"insert an old event", []string{`INSERT INTO audit_events (seq, xid, occurred_at, actor_role, action, facts)
			VALUES (1000, 3, now() - interval '1 day', 'operator', 'ledger.entry.post', '{"amount":"1.00"}')`}, false, "unchained_event", 0, 1000},
		{"insert a backdated event the chainer then links", []string{`INSERT INTO audit_events (seq, occurred_at, actor_role, action, facts)
			VALUES (1001, now() - interval '1 day', 'operator', 'ledger.entry.post', '{"amount":"1.00"}')`}, true, "backdated", 13, 1001},
		{"overwrite a chain hash", []string{`UPDATE audit_chain SET hash = sha256('x') WHERE pos = 10`}, false, "hash_mismatch", 10, 10},
		{"forge a checkpoint", []string{`UPDATE audit_checkpoints SET hash = sha256('x')`}, false, "bad_signature", -1, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tr, db := newTrail(t)
			appendEvents(t, db, 12)
			link(t, tr, db)
			if rep, _ := tr.Verify(context.Background(), 0, 0); !rep.OK {
				t.Fatalf("before tampering: %+v", rep)
			}
			tamper(t, db, tc.sql...)
			if tc.relink {
				link(t, tr, db)
			}
			rep, err := tr.Verify(context.Background(), 0, 0)
			if err != nil {
				t.Fatal(err)
			}
			if rep.OK {
				t.Fatalf("tampering not detected: %+v", rep)
			}
			found := false
			for _, p := range rep.Problems {
				if p.Kind == tc.kind && (p.Pos == tc.pos || tc.pos == -1) && p.Seq == tc.seq {
					found = true
				}
			}
			if !found {
				t.Errorf("want %s at position %d (event %d); got %+v", tc.kind, tc.pos, tc.seq, rep.Problems)
			}
		})
	}
}

// TestRewrittenChainFailsAtTheCheckpoint: an attacker who alters an event
// and recomputes every later hash still cannot match the signed checkpoint.
func TestRewrittenChainFailsAtTheCheckpoint(t *testing.T) {
	t.Parallel()
	tr, db := newTrail(t)
	appendEvents(t, db, 12)
	link(t, tr, db)
	tamper(t, db, `UPDATE audit_events SET facts = '{"amount":"0.01"}' WHERE seq = 2`)
	// recompute the chain from position 2 on, as the attacker would
	ctx := context.Background()
	var buf bytes.Buffer
	if err := tr.Export(ctx, &buf, 1, 0); err != nil {
		t.Fatal(err)
	}
	rows, _ := db.Pool.Query(ctx, `SELECT c.pos, e.canon, e.seq, e.occurred_at, e.actor_key_id, e.actor_role, e.actor_subject, e.action, e.object_ids, e.request_id, e.facts::text
		FROM audit_chain c JOIN audit_events e ON e.seq = c.event_seq ORDER BY c.pos`)
	prev := audit.GenesisHash
	var updates []string
	for rows.Next() {
		var pos int64
		var e audit.Event
		var key *uuid.UUID
		var facts string
		if err := rows.Scan(&pos, &e.Canon, &e.Seq, &e.OccurredAt, &key, &e.Actor.Role, &e.Actor.Subject, &e.Action, &e.ObjectIDs, &e.RequestID, &facts); err != nil {
			t.Fatal(err)
		}
		if key != nil {
			e.Actor.KeyID = *key
		}
		e.Facts = []byte(facts)
		h, _ := audit.HashLink(prev, e)
		updates = append(updates, fmt.Sprintf(`UPDATE audit_chain SET hash = '\x%x' WHERE pos = %d`, h, pos))
		prev = h
	}
	rows.Close()
	tamper(t, db, updates...)
	rep, err := tr.Verify(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if rep.OK {
		t.Fatal("a consistently rewritten chain passed verification")
	}
	for _, p := range rep.Problems {
		if p.Kind != "checkpoint_mismatch" {
			t.Errorf("unexpected problem %+v (every link is consistent now)", p)
		}
	}
}

func TestExportVerifiesOffline(t *testing.T) {
	t.Parallel()
	tr, db := newTrail(t)
	appendEvents(t, db, 17)
	link(t, tr, db)
	var buf bytes.Buffer
	if err := tr.Export(context.Background(), &buf, 1, 0); err != nil {
		t.Fatal(err)
	}
	keys := tr.PublicKeys()
	rep, err := audit.VerifyExport(bytes.NewReader(buf.Bytes()), keys)
	if err != nil || !rep.OK || rep.Links != 17 || rep.Checkpoints == 0 {
		t.Fatalf("offline verify = %+v, %v", rep, err)
	}
	// A part of the chain verifies too.
	var part bytes.Buffer
	if err := tr.Export(context.Background(), &part, 5, 12); err != nil {
		t.Fatal(err)
	}
	if rep, err := audit.VerifyExport(&part, keys); err != nil || !rep.OK || rep.Links != 8 {
		t.Fatalf("partial export = %+v, %v", rep, err)
	}
	// Editing an amount in the file is caught, at its position.
	lines := strings.Split(buf.String(), "\n")
	for i, l := range lines {
		if strings.Contains(l, `"pos":11,`) && strings.Contains(l, `"type":"link"`) {
			lines[i] = strings.Replace(l, `.00\"`, `.01\"`, 1)
			lines[i] = strings.Replace(lines[i], `.00"`, `.01"`, 1)
		}
	}
	rep, err = audit.VerifyExport(strings.NewReader(strings.Join(lines, "\n")), keys)
	if err != nil || rep.OK || rep.Problems[0].Pos != 11 {
		t.Fatalf("edited export = %+v, %v", rep, err)
	}
	// The wrong public key fails every checkpoint.
	other, _ := audit.GenerateSeed()
	s, _ := audit.ParseSigner(other)
	if rep, _ := audit.VerifyExport(bytes.NewReader(buf.Bytes()), []audit.PublicKey{s.Public()}); rep.OK {
		t.Fatal("verified against the wrong key")
	}
	_ = time.Second
}
