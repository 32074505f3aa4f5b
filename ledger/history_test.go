package ledger_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/crowdledger/crowdledger/internal/money"
	"github.com/crowdledger/crowdledger/internal/pg"
	"github.com/crowdledger/crowdledger/ledger"
)

func TestBalanceAsOfAndEntries(t *testing.T) {
	t.Parallel()
	l, _ := newLedger(t, ledger.Options{})
	ctx := context.Background()
	bank := account(t, l, "KWD", ledger.CodeCustodyBank, ledger.Flags{})
	w := account(t, l, "KWD", ledger.CodeInvestorWallet, noOverdraft)
	start := time.Now()
	var marks []time.Time
	for _, a := range []string{"1.000", "2.250", "0.125"} {
		post(t, l, bank, w, amt(t, "KWD", a))
		time.Sleep(5 * time.Millisecond)
		marks = append(marks, time.Now())
	}
	post(t, l, w, bank, amt(t, "KWD", "0.375"))

	for i, want := range []string{"1.000", "3.250", "3.375"} {
		b, err := l.BalanceAsOf(ctx, w, marks[i])
		if err != nil || b.CreditsPosted.String() != want {
			t.Errorf("as of mark %d: credits %s, %v; want %s", i, b.CreditsPosted, err, want)
		}
	}
	b, err := l.BalanceAsOf(ctx, w, start.Add(-time.Hour))
	if err != nil || !b.CreditsPosted.IsZero() {
		t.Errorf("before any transfer: %+v, %v", b, err)
	}

	// Pages of two, with running balances, following the opaque cursor.
	var all []ledger.AccountEntry
	var cursor ledger.Cursor
	for pages := 0; ; pages++ {
		page, next, err := l.AccountEntries(ctx, w, cursor, 2)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, page...)
		if next.String() == "" {
			break
		}
		if cursor, err = ledger.ParseCursor(next.String()); err != nil || cursor != next {
			t.Fatalf("cursor round trip %q: %+v, %v", next, cursor, err)
		}
		if pages > 3 {
			t.Fatal("pagination does not end")
		}
	}
	if len(all) != 4 {
		t.Fatalf("%d entries, want 4", len(all))
	}
	wantNet := []string{"1.000", "3.250", "3.375", "3.000"}
	for i, e := range all {
		net, _ := e.Balances.CreditsPosted.Sub(e.Balances.DebitsPosted)
		if net.String() != wantNet[i] {
			t.Errorf("entry %d running balance %s, want %s", i, net, wantNet[i])
		}
		if i > 0 && (e.Seq <= all[i-1].Seq || e.CreatedAt.Before(all[i-1].CreatedAt)) {
			t.Errorf("entry %d out of order", i)
		}
	}
	if all[3].Side != ledger.Debit || all[0].Side != ledger.Credit {
		t.Errorf("sides = %s, %s", all[0].Side, all[3].Side)
	}
}

// TestHistoryIsImmutable tries to rewrite history with plain SQL, as a
// superuser would: the database itself refuses.
func TestHistoryIsImmutable(t *testing.T) {
	t.Parallel()
	l, db := newLedger(t, ledger.Options{})
	ctx := context.Background()
	bank := account(t, l, "CNY", ledger.CodeCustodyBank, ledger.Flags{})
	w := account(t, l, "CNY", ledger.CodeInvestorWallet, noOverdraft)
	post(t, l, bank, w, amt(t, "CNY", "1.00"))
	for _, sql := range []string{
		`UPDATE transfers SET amount = 1000`,
		`DELETE FROM transfers`,
		`TRUNCATE transfers CASCADE`,
		`UPDATE entries SET idempotency_key = 'x'`,
		`DELETE FROM entries`,
		`UPDATE account_entries SET credits_posted = 0`,
		`DELETE FROM account_entries`,
		`DELETE FROM accounts`,
		`UPDATE accounts SET currency = 'USD'`,
		`UPDATE accounts SET debits_must_not_exceed_credits = false`,
		`UPDATE accounts SET owner = 'party:someone-else'`,
		`UPDATE accounts SET code = 'platform_fee_revenue'`,
		`UPDATE accounts SET idempotency_key = 'other'`,
	} {
		if _, err := db.Pool.Exec(ctx, sql); err == nil {
			t.Errorf("%s: succeeded, want refused", sql)
		} else if code := pg.Code(err); code != pg.RestrictViolation && code != pg.ForeignKeyViolation {
			t.Errorf("%s: %v (SQLSTATE %s)", sql, err, code)
		}
	}
	// Even a direct balance update that would overdraw a flagged account is refused.
	if _, err := db.Pool.Exec(ctx, `UPDATE accounts SET debits_posted = 5 WHERE id = $1`, w); pg.Code(err) != pg.CheckViolation {
		t.Errorf("overdrawing update: %v", err)
	}
}

// TestCodeFormatInDatabase pins the database's code check (migration 013
// rewrote it for speed) to the format the service validates: the same
// strings pass and fail.
func TestCodeFormatInDatabase(t *testing.T) {
	t.Parallel()
	_, db := newLedger(t, ledger.Options{})
	for i, tc := range []struct {
		code string
		ok   bool
	}{
		{"a", true},
		{"commitment", true},
		{"campaign_escrow_2", true},
		{"a" + strings.Repeat("b", 63), true},
		{"a" + strings.Repeat("b", 64), false},
		{"", false},
		{"Commitment", false},
		{"1abc", false},
		{"_abc", false},
		{"a-b", false},
		{"a.b", false},
		{"a b", false},
		{"café", false},
		{"abc\n", false},
	} {
		_, err := db.Pool.Exec(context.Background(), `INSERT INTO accounts (id, currency, code, idempotency_key, request_hash)
			VALUES (gen_random_uuid(), 'CNY', $1, $2, '\x00')`, tc.code, fmt.Sprintf("code-format-%d", i))
		switch {
		case tc.ok && err != nil:
			t.Errorf("code %q refused: %v", tc.code, err)
		case !tc.ok && pg.Code(err) != pg.CheckViolation:
			t.Errorf("code %q: err %v, want a check violation", tc.code, err)
		}
	}
}

// TestCurrencyTableMatchesDatabase keeps internal/money and the migration in step.
func TestCurrencyTableMatchesDatabase(t *testing.T) {
	t.Parallel()
	_, db := newLedger(t, ledger.Options{})
	rows, err := db.Pool.Query(context.Background(), `SELECT code, minor_units FROM currencies ORDER BY code`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	inDB := map[string]int32{}
	for rows.Next() {
		var c string
		var s int32
		if err := rows.Scan(&c, &s); err != nil {
			t.Fatal(err)
		}
		inDB[c] = s
	}
	goTable := money.Currencies()
	if len(goTable) != len(inDB) {
		t.Errorf("%d currencies in Go, %d in the database", len(goTable), len(inDB))
	}
	for _, c := range goTable {
		if s, ok := inDB[c.Code()]; !ok || s != c.Scale() {
			t.Errorf("%s: Go scale %d, database %d (present %v)", c.Code(), c.Scale(), s, ok)
		}
	}
}
