package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/crowdledger/crowdledger/auth"
	"github.com/crowdledger/crowdledger/internal/page"
)

// BenchmarkListCommitments times list pages through the HTTP stack on a
// campaign with a million commitments (and a million orders): the first
// page and pages deep in the walk, for staff and for the issuer, and an
// investor's own. It reports p50 and p99 per page besides the mean; the
// target is p99 <= 20 ms. It grows the tables on the test server and
// ANALYZEs them, as autovacuum would on a production server.
//
//	go test ./api -run '^$' -bench BenchmarkListCommitments -benchtime 2000x
func BenchmarkListCommitments(b *testing.B) {
	s := newListStory(b)
	v := s.v
	ctx := context.Background()
	conn, err := v.db.Pool.Acquire(ctx)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `SET session_replication_role = replica`); err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	for _, table := range []string{"commitments", "orders"} {
		for done := 0; done < 1_000_000; done += 100_000 {
			if err := growTable(ctx, conn, table, done, 100_000); err != nil {
				b.Fatal(err)
			}
		}
	}
	if _, err := conn.Exec(ctx, `ANALYZE commitments; ANALYZE orders`); err != nil {
		b.Fatal(err)
	}
	b.Logf("grew commitments and orders to 1,000,003 rows each in %s", time.Since(start).Round(time.Second))
	b.Cleanup(func() {
		// The clones break the ledger's invariants the environment checks.
		conn.Exec(ctx, `DELETE FROM orders WHERE commitment_id NOT IN (SELECT id FROM commitments WHERE idempotency_key NOT LIKE 'grown-%')`) //nolint:errcheck
		conn.Exec(ctx, `DELETE FROM commitments WHERE idempotency_key LIKE 'grown-%'`)                                                        //nolint:errcheck
		conn.Release()
	})
	reg := v.key[auth.Regulator]
	// A cursor half way down the campaign's commitments: a keyset page
	// there costs what the first one does.
	var at time.Time
	var id string
	if err := v.db.Pool.QueryRow(ctx, `SELECT created_at, id FROM commitments WHERE campaign_id = $1 ORDER BY created_at DESC, id DESC OFFSET 500000 LIMIT 1`,
		s.live).Scan(&at, &id); err != nil {
		b.Fatal(err)
	}
	deep := page.Key{At: at, ID: uuid.MustParse(id)}.Cursor()
	paths := []struct{ key, path string }{
		{reg, "/v1/commitments?campaign_id=" + s.live + "&limit=50"},
		{reg, "/v1/commitments?campaign_id=" + s.live + "&limit=50&cursor=" + url.QueryEscape(deep)},
		{s.issuerKey, "/v1/commitments?campaign_id=" + s.live + "&limit=50&state=settled"},
		{s.backerKeys[0], "/v1/commitments?limit=50"},
		{reg, "/v1/campaigns/" + s.live + "/orders?limit=50"},
		{s.backerKeys[1], "/v1/orders?limit=50"},
	}
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		p := paths[i%len(paths)]
		hr := httptest.NewRequest(http.MethodGet, p.path, nil)
		hr.Header.Set("Authorization", "Bearer "+p.key)
		rec := httptest.NewRecorder()
		t0 := time.Now()
		v.e.ServeHTTP(rec, hr)
		lat = append(lat, time.Since(t0))
		if rec.Code != 200 {
			b.Fatalf("%s: %d %s", p.path, rec.Code, rec.Body)
		}
		if i < len(paths) {
			var page struct{ Items []json.RawMessage }
			if err := json.Unmarshal(rec.Body.Bytes(), &page); err != nil || len(page.Items) == 0 {
				b.Fatalf("%s: %v %d items", p.path, err, len(page.Items))
			}
		}
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}
