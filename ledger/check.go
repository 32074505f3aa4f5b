package ledger

import (
	"context"
	"fmt"
)

// Violation is one broken invariant, described for a human.
type Violation struct {
	Invariant string
	Detail    string
}

func (v Violation) String() string { return v.Invariant + ": " + v.Detail }

// checks are the ledger's invariants as queries: each returns one text
// column describing every row that breaks it, and no rows when it holds.
var checks = []struct{ name, sql string }{
	{"debits equal credits per currency", `
		SELECT format('%s: debits posted %s, credits posted %s, debits pending %s, credits pending %s',
			currency, sum(debits_posted), sum(credits_posted), sum(debits_pending), sum(credits_pending))
		FROM accounts GROUP BY currency
		HAVING sum(debits_posted) <> sum(credits_posted) OR sum(debits_pending) <> sum(credits_pending)`},
	{"account balances equal the sums of their transfers", `
		WITH eff AS (
			SELECT t.debit_account_id AS account_id,
				CASE WHEN t.kind IN ('posted', 'post_pending') THEN t.amount ELSE 0 END AS dp, 0::numeric AS cp,
				CASE t.kind WHEN 'pending' THEN t.amount WHEN 'post_pending' THEN -p.amount
					WHEN 'void_pending' THEN -p.amount ELSE 0 END AS dq, 0::numeric AS cq
			FROM transfers t LEFT JOIN transfers p ON p.id = t.pending_id
			UNION ALL
			SELECT t.credit_account_id, 0, CASE WHEN t.kind IN ('posted', 'post_pending') THEN t.amount ELSE 0 END,
				0, CASE t.kind WHEN 'pending' THEN t.amount WHEN 'post_pending' THEN -p.amount
					WHEN 'void_pending' THEN -p.amount ELSE 0 END
			FROM transfers t LEFT JOIN transfers p ON p.id = t.pending_id
		), sums AS (
			SELECT account_id, sum(dp) dp, sum(cp) cp, sum(dq) dq, sum(cq) cq FROM eff GROUP BY account_id
		)
		SELECT format('account %s stores %s/%s/%s/%s, transfers sum to %s/%s/%s/%s', a.id,
			a.debits_posted, a.credits_posted, a.debits_pending, a.credits_pending,
			coalesce(s.dp, 0), coalesce(s.cp, 0), coalesce(s.dq, 0), coalesce(s.cq, 0))
		FROM accounts a LEFT JOIN sums s ON s.account_id = a.id
		WHERE a.debits_posted <> coalesce(s.dp, 0) OR a.credits_posted <> coalesce(s.cp, 0)
		   OR a.debits_pending <> coalesce(s.dq, 0) OR a.credits_pending <> coalesce(s.cq, 0)`},
	{"latest account entry carries the account's balances", `
		SELECT format('account %s: latest entry %s/%s/%s/%s, account %s/%s/%s/%s', a.id,
			e.debits_posted, e.credits_posted, e.debits_pending, e.credits_pending,
			a.debits_posted, a.credits_posted, a.debits_pending, a.credits_pending)
		FROM accounts a
		JOIN LATERAL (SELECT * FROM account_entries ae WHERE ae.account_id = a.id ORDER BY created_at DESC, seq DESC LIMIT 1) e ON true
		WHERE (e.debits_posted, e.credits_posted, e.debits_pending, e.credits_pending)
		   <> (a.debits_posted, a.credits_posted, a.debits_pending, a.credits_pending)`},
	{"every transfer has exactly one debit and one credit account entry", `
		SELECT format('transfer %s has %s account entries', t.id, count(ae.transfer_id))
		FROM transfers t LEFT JOIN account_entries ae ON ae.transfer_id = t.id
		GROUP BY t.id
		HAVING count(ae.transfer_id) <> 2 OR count(*) FILTER (WHERE ae.side = 'D' AND ae.account_id = t.debit_account_id) <> 1
		    OR count(*) FILTER (WHERE ae.side = 'C' AND ae.account_id = t.credit_account_id) <> 1`},
	{"no flagged account is overdrawn", `
		SELECT format('account %s is overdrawn', id) FROM accounts
		WHERE (debits_must_not_exceed_credits AND debits_posted + debits_pending > credits_posted)
		   OR (credits_must_not_exceed_debits AND credits_posted + credits_pending > debits_posted)`},
	{"pending transfers are resolved at most once, by a matching transfer", `
		SELECT format('transfer %s resolves %s (%s), resolved %s times', r.id, r.pending_id, p.kind,
			count(*) OVER (PARTITION BY r.pending_id))
		FROM transfers r JOIN transfers p ON p.id = r.pending_id
		WHERE p.kind <> 'pending' OR r.debit_account_id <> p.debit_account_id
		   OR r.credit_account_id <> p.credit_account_id OR r.amount > p.amount
		   OR (r.kind = 'void_pending' AND r.amount <> p.amount)`},
	{"every entry has transfers", `
		SELECT format('entry %s has no transfers', e.id) FROM entries e
		WHERE NOT EXISTS (SELECT 1 FROM transfers t WHERE t.entry_id = e.id)`},
}

// Check verifies every invariant of the ledger over the whole database and
// returns what is broken (nothing, when all hold). It reads in one
// REPEATABLE READ snapshot so that concurrent writers cannot make a
// consistent ledger look inconsistent.
func (l *Ledger) Check(ctx context.Context) ([]Violation, error) {
	tx, err := l.db.BeginTx(ctx, pgxTxReadOnlySnapshot)
	if err != nil {
		return nil, fmt.Errorf("check: %w", err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck
	var out []Violation
	for _, c := range checks {
		rows, err := tx.Query(ctx, c.sql)
		if err != nil {
			return nil, fmt.Errorf("check %q: %w", c.name, err)
		}
		for rows.Next() {
			var d string
			if err := rows.Scan(&d); err != nil {
				rows.Close()
				return nil, fmt.Errorf("check %q: %w", c.name, err)
			}
			out = append(out, Violation{Invariant: c.name, Detail: d})
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("check %q: %w", c.name, err)
		}
	}
	return out, nil
}
