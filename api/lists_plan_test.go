package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/crowdledger/crowdledger/auth"
)

// pageQueries records the page queries the service sends (a keyset page
// ends "DESC LIMIT n"), with their arguments, for EXPLAIN.
type pageQueries struct {
	mu   sync.Mutex
	seen []capturedQuery
}

type capturedQuery struct {
	sql  string
	args []any
}

func (p *pageQueries) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	if strings.Contains(d.SQL, " DESC LIMIT ") && strings.Contains(d.SQL, " ORDER BY ") {
		p.mu.Lock()
		p.seen = append(p.seen, capturedQuery{d.SQL, d.Args})
		p.mu.Unlock()
	}
	return ctx
}

func (p *pageQueries) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

func (p *pageQueries) take() []capturedQuery {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := p.seen
	p.seen = nil
	return out
}

// grown are the tables TestListQueriesStayIndexScans grows, with how many
// rows it clones into each.
var grown = map[string]int{
	"campaigns": 50_000, "commitments": 100_000, "orders": 100_000, "transfers": 100_000, "account_entries": 100_000,
	"parties": 50_000, "accounts": 50_000, "entries": 100_000, "complaints": 20_000, "freezes": 20_000, "list_entries": 20_000,
	"api_keys": 20_000, "spot_checks": 20_000, "audit_events": 100_000,
}

// grownAt is the column a grown table's rows are ordered and aged by.
func grownAt(table string) string {
	switch table {
	case "spot_checks":
		return "committed_at"
	case "audit_events":
		return "occurred_at"
	}
	return "created_at"
}

// TestListQueriesStayIndexScans runs every list with its filters over the
// API (capturing the statements the service sends), then grows each table
// to tens or hundreds of thousands of rows, analyses them as autovacuum
// would, and EXPLAINs each captured statement: none may read a grown table
// by sequential scan. (A keyset page is then a bounded index range however
// large the table: the planner's preference for the index only grows with
// the table, so the plans hold at 10 million rows; BenchmarkListCommitments
// times pages on a campaign with a million commitments.)
func TestListQueriesStayIndexScans(t *testing.T) {
	t.Parallel()
	tracer := &pageQueries{}
	s := newListStoryTraced(t, tracer)
	v := s.v
	reg := v.key[auth.Regulator]
	v.must(201, req{method: "POST", path: "/v1/lists/entries", key: reg, body: `{"list":"black","party_id":"` + s.backers[1] + `","reason":"失信被执行人","authority":"最高人民法院"}`})
	v.must(201, req{method: "POST", path: "/v1/spot-checks", key: reg, body: `{"k":1,"filter":{},"inspectors":["张检查"]}`})
	s.link()            // the events chained before the clones, which are never (their xid is older than the chain's)
	tracer.take()       // the story's own statements
	after := "&cursor=" // filled with a real cursor below, so the keyset condition is planned too
	calls := []struct{ key, path string }{
		{reg, "/v1/campaigns?limit=1"}, {reg, "/v1/campaigns?state=settled&limit=1"}, {reg, "/v1/campaigns?issuer_id=" + s.issuer},
		{reg, "/v1/campaigns?q=挂面"}, {s.backerKeys[0], "/v1/campaigns?limit=1"}, {s.otherKey, "/v1/campaigns"},
		{reg, "/v1/commitments?limit=1"}, {reg, "/v1/commitments?campaign_id=" + s.live + "&limit=1"}, {s.backerKeys[0], "/v1/commitments"},
		{s.issuerKey, "/v1/commitments?campaign_id=" + s.live + "&limit=1"},
		{reg, "/v1/orders?limit=1"}, {reg, "/v1/campaigns/" + s.live + "/orders?limit=1"}, {s.backerKeys[0], "/v1/orders"},
		{reg, "/v1/transfers?limit=1"}, {reg, "/v1/transfers?account_id=" + s.escrow + "&limit=1"},
		{reg, "/v1/transfers?metadata.campaign_id=" + s.live}, {reg, "/v1/transfers?idempotency_key=none"},
		{reg, "/v1/parties?limit=1"}, {reg, "/v1/parties?role=investor&limit=1"},
		{reg, "/v1/accounts?limit=1"}, {reg, "/v1/accounts?owner=party:" + s.backers[0]},
		{reg, "/v1/complaints?limit=1"}, {s.backerKeys[0], "/v1/complaints"},
		{reg, "/v1/freezes?limit=1"}, {reg, "/v1/lists/entries?limit=1"}, {reg, "/v1/review-flags"},
		{reg, "/v1/spot-checks"}, {v.key[auth.Operator], "/v1/keys?limit=1"}, {reg, "/v1/campaigns/" + s.live + "/events?limit=1"},
	}
	for _, c := range calls {
		r := v.must(200, req{method: "GET", path: c.path, key: c.key})
		if next := r.str("next_cursor"); next != "" {
			v.must(200, req{method: "GET", path: c.path + after + next, key: c.key})
		}
	}
	queries := tracer.take()
	if len(queries) < len(calls) {
		t.Fatalf("captured %d page queries for %d calls", len(queries), len(calls))
	}

	ctx := context.Background()
	db := v.db.Pool
	// Clone rows with fresh keys, a day and more older than the story's,
	// with the foreign-key and append-only triggers off for this session,
	// in statements of 20,000 rows: short transactions, because a long one
	// holds back every database's audit chainer on this server (an event
	// is linked only once every older transaction has ended). The clones
	// are deleted at the end, so the ledger's invariants hold again.
	conn, err := db.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SET session_replication_role = replica`); err != nil {
		t.Fatal(err)
	}
	defer func() {
		for table := range grown {
			if _, err := conn.Exec(ctx, fmt.Sprintf(`DELETE FROM %s WHERE %s < now() - interval '12 hours'`, table, grownAt(table))); err != nil {
				t.Errorf("remove the clones of %s: %v", table, err)
			}
		}
		conn.Exec(ctx, `DELETE FROM review_flags WHERE reason = 'grown'`) //nolint:errcheck
		conn.Exec(ctx, `RESET session_replication_role`)                  //nolint:errcheck
	}()
	for table, n := range grown {
		for done := 0; done < n; done += 20_000 {
			if err := growTable(ctx, conn, table, done, min(20_000, n-done)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := conn.Exec(ctx, `INSERT INTO review_flags (id, party_id, transfer_id, reason, list_entry, created_at)
		SELECT gen_random_uuid(), gen_random_uuid(), gen_random_uuid(), 'grown', gen_random_uuid(), now() - interval '1 day' - i * interval '1 second'
		FROM generate_series(1, 20000) i`); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `ANALYZE`); err != nil {
		t.Fatal(err)
	}
	grownTables := map[string]bool{"review_flags": true}
	for table := range grown {
		grownTables[table] = true
	}
	for _, q := range queries {
		var raw []byte
		if err := conn.QueryRow(ctx, "EXPLAIN (FORMAT JSON) "+q.sql, q.args...).Scan(&raw); err != nil {
			t.Fatalf("explain %s: %v", q.sql, err)
		}
		var plan []struct{ Plan planNode }
		if err := json.Unmarshal(raw, &plan); err != nil {
			t.Fatal(err)
		}
		var shape []string
		plan[0].Plan.walk(func(n planNode) {
			shape = append(shape, strings.TrimSpace(n.NodeType+" "+n.Index+" "+n.Relation))
			if n.NodeType == "Seq Scan" && grownTables[n.Relation] {
				t.Errorf("sequential scan of %s for\n  %s\n  plan: %s", n.Relation, q.sql, raw)
			}
		})
		t.Logf("%s\n  -> %s", q.sql[max(strings.Index(q.sql, "FROM"), 0):], strings.Join(shape, " / "))
	}
}

// growTable clones a table's first row n times with fresh keys, each a
// second older than the last, so a list's newest page is still the real
// rows. The caller turns the foreign-key and append-only triggers off
// (session_replication_role = replica).
func growTable(ctx context.Context, conn interface {
	Exec(context.Context, string, ...any) (pgconn.CommandTag, error)
}, table string, from, n int) error {
	at := grownAt(table)
	// Keys that must stay unique get fresh values; NULLs mean "keep the
	// template's value" (stripped). LATERAL, not (f(x)).*, which calls f
	// once per column.
	sql := fmt.Sprintf(`INSERT INTO %[1]s SELECT r.* FROM (SELECT * FROM %[1]s ORDER BY %[2]s DESC LIMIT 1) x, generate_series($2::int + 1, $2::int + $1) i,
		LATERAL jsonb_populate_record(NULL::%[1]s, to_jsonb(x) || jsonb_strip_nulls(jsonb_build_object(
			'id', gen_random_uuid(), '%[2]s', x.%[2]s - interval '1 day' - i * interval '1 second', 'idempotency_key', 'grown-' || i,
			'doc_lookup', uuid_send(gen_random_uuid()), 'entry_id', gen_random_uuid(), 'commitment_id', gen_random_uuid(),
			'seq', i + 1000000, 'title', 'campaign ' || i, 'investor_id', CASE WHEN i %% 4 = 0 THEN gen_random_uuid() END,
			'backer_id', CASE WHEN i %% 4 = 0 THEN gen_random_uuid() END, 'issuer_id', CASE WHEN i %% 4 = 0 THEN gen_random_uuid() END,
			'owner', 'party:' || gen_random_uuid(), 'complainant_id', gen_random_uuid(), 'xid', 1))) r`, table, at)
	if table == "account_entries" {
		sql = `INSERT INTO account_entries SELECT r.* FROM (SELECT * FROM account_entries ORDER BY created_at DESC LIMIT 1) x,
			generate_series($2::int + 1, $2::int + $1) i, LATERAL jsonb_populate_record(NULL::account_entries, to_jsonb(x) || jsonb_build_object(
			'transfer_id', gen_random_uuid(), 'created_at', x.created_at - interval '1 day' - i * interval '1 second', 'seq', i + 1000000)) r`
	}
	if _, err := conn.Exec(ctx, sql, n, from); err != nil {
		return fmt.Errorf("grow %s: %w", table, err)
	}
	return nil
}

type planNode struct {
	NodeType string     `json:"Node Type"`
	Index    string     `json:"Index Name"`
	Relation string     `json:"Relation Name"`
	Plans    []planNode `json:"Plans"`
}

func (n planNode) walk(f func(planNode)) {
	f(n)
	for _, c := range n.Plans {
		c.walk(f)
	}
}
