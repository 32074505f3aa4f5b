package idempotency

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// CheckKeys refuses a key ring that lacks a key stored answers are sealed
// under, so the service stops at start instead of failing retries later.
func (s *Store) CheckKeys(ctx context.Context) error {
	rows, err := s.db.Query(ctx, `SELECT DISTINCT pii_key_id FROM idempotency_keys WHERE pii_key_id IS NOT NULL`)
	if err != nil {
		return fmt.Errorf("check keys of stored answers: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("check keys of stored answers: %w", err)
	}
	for _, id := range ids {
		if !s.sealer.Has(id) {
			return fmt.Errorf("stored answers are sealed under key %q, which PII_KEYS lacks: keep it in the ring until `crowdledger pii reencrypt` has run", id)
		}
	}
	return nil
}

// Reseal seals, under the ring's current key, up to limit stored answers
// sealed under another key or not at all (stored before answers were
// sealed), and returns how many. Resumable: run it until it returns 0.
func (s *Store) Reseal(ctx context.Context, limit int) (int, error) {
	current, done := s.sealer.CurrentKeyID(), 0
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT scope, key, body, pii_key_id FROM idempotency_keys
			WHERE pii_key_id IS DISTINCT FROM $1 LIMIT $2 FOR UPDATE SKIP LOCKED`, current, limit)
		if err != nil {
			return err
		}
		type row struct {
			req   Request
			body  []byte
			keyID *string
		}
		page, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (row, error) {
			var x row
			err := r.Scan(&x.req.Scope, &x.req.Key, &x.body, &x.keyID)
			return x, err
		})
		if err != nil {
			return err
		}
		for _, x := range page {
			plain := x.body
			if x.keyID != nil {
				if plain, err = s.sealer.Open(*x.keyID, x.body, bodyContext(x.req)); err != nil {
					return fmt.Errorf("reseal the answer of %q: %w", x.req.Key, err)
				}
			}
			sb := s.seal(x.req, Response{Body: plain})
			if _, err := tx.Exec(ctx, `UPDATE idempotency_keys SET body = $3, pii_key_id = $4 WHERE scope = $1 AND key = $2`,
				x.req.Scope, x.req.Key, sb.body, sb.keyID); err != nil {
				return err
			}
		}
		done = len(page)
		return nil
	})
	return done, err
}
