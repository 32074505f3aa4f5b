package pg_test

import (
	"context"
	"strings"
	"testing"

	"github.com/crowdledger/crowdledger/internal/pg"
	"github.com/crowdledger/crowdledger/internal/pgtest"
)

// The service's connections run without JIT unless the URL asks for it.
func TestConnectJIT(t *testing.T) {
	base := pgtest.URL(t)
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	for _, tc := range []struct {
		name, url, want string
	}{
		{"default off", base, "off"},
		{"url decides", base + sep + "jit=on", "on"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			pool, err := pg.Connect(ctx, tc.url, 1)
			if err != nil {
				t.Fatal(err)
			}
			defer pool.Close()
			var got string
			if err := pool.QueryRow(ctx, `SHOW jit`).Scan(&got); err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("jit = %q, want %q", got, tc.want)
			}
		})
	}
}
