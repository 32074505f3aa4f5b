package registry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/crowdledger/crowdledger/internal/pg"
)

// sealedColumn is one ciphertext column of the registry's tables and the
// context its values are sealed under (pii.Keyring.Seal).
type sealedColumn struct {
	table, column string
	context       func(id uuid.UUID) string
}

var sealedColumns = []sealedColumn{
	{"parties", "name_enc", func(id uuid.UUID) string { return "party:" + id.String() + ":name" }},
	{"parties", "doc_enc", func(id uuid.UUID) string { return "party:" + id.String() + ":document" }},
	{"list_entries", "doc_enc", func(id uuid.UUID) string { return "list:" + id.String() + ":document" }},
	{"qualifications", "detail_enc", func(id uuid.UUID) string { return "qualification:" + id.String() }},
}

// ErrKeyRing: the configured key ring cannot open what is stored.
var ErrKeyRing = errors.New("the personal-data key ring does not fit the stored data")

// CheckKeys refuses a key ring that cannot open the stored personal data,
// so a misconfigured ring stops the service at start with a clear message
// rather than answering 500s later: every key id in use must be in the
// ring and open a sample row, and the lookup key must hash a sample
// document to its stored lookup (a changed lookup key would let the same
// document register twice).
func (r *Registry) CheckKeys(ctx context.Context) error {
	for _, c := range sealedColumns {
		rows, err := r.db.Query(ctx, fmt.Sprintf(`SELECT DISTINCT ON (pii_key_id) pii_key_id, id, %s FROM %s WHERE pii_key_id IS NOT NULL
			ORDER BY pii_key_id`, c.column, c.table))
		if err != nil {
			return fmt.Errorf("check keys of %s: %w", c.table, err)
		}
		type sample struct {
			keyID string
			id    uuid.UUID
			enc   []byte
		}
		samples, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (sample, error) {
			var s sample
			err := row.Scan(&s.keyID, &s.id, &s.enc)
			return s, err
		})
		if err != nil {
			return fmt.Errorf("check keys of %s: %w", c.table, err)
		}
		for _, s := range samples {
			if !r.keys.Has(s.keyID) {
				return fmt.Errorf("%w: %s.%s holds data sealed under key %q, which PII_KEYS (ids %v) lacks: keep it in the ring until `crowdledger pii reencrypt` has run",
					ErrKeyRing, c.table, c.column, s.keyID, r.keys.IDs())
			}
			if _, err := r.keys.Open(s.keyID, s.enc, c.context(s.id)); err != nil {
				return fmt.Errorf("%w: key %q in PII_KEYS does not open %s.%s of row %s: it is not the key the data was sealed with", ErrKeyRing, s.keyID, c.table, c.column, s.id)
			}
		}
	}
	var (
		id                   uuid.UUID
		docType, keyID       string
		docEnc, storedLookup []byte
	)
	err := r.db.QueryRow(ctx, `SELECT id, doc_type, pii_key_id, doc_enc, doc_lookup FROM parties LIMIT 1`).Scan(&id, &docType, &keyID, &docEnc, &storedLookup)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("check the lookup key: %w", err)
	}
	doc, err := r.keys.Open(keyID, docEnc, "party:"+id.String()+":document")
	if err != nil {
		return fmt.Errorf("%w: %v", ErrKeyRing, err)
	}
	if !bytes.Equal(r.keys.Lookup(docType, string(doc)), storedLookup) {
		return fmt.Errorf("%w: PII_LOOKUP_KEY is not the key stored documents were hashed with; it never rotates (a new one would let a document register twice)", ErrKeyRing)
	}
	return nil
}

// Reseal re-encrypts, under the ring's current key, up to limit values of
// each ciphertext column that another key sealed, and returns how many it
// rewrote. It is resumable and safe beside a running service: run it until
// it returns 0; each page commits on its own, and rows another process
// holds are skipped for the next round.
func (r *Registry) Reseal(ctx context.Context, limit int) (int, error) {
	current, total := r.keys.CurrentKeyID(), 0
	for _, c := range sealedColumns {
		done := 0
		err := pg.InTx(ctx, r.db, func(tx pgx.Tx) error {
			done = 0
			// Both of a party's columns share pii_key_id: a row moves to the
			// new key when all its columns are resealed at once.
			cols := []string{c.column}
			if c.table == "parties" {
				if c.column != "name_enc" {
					return nil // resealed with name_enc
				}
				cols = []string{"name_enc", "doc_enc"}
			}
			rows, err := tx.Query(ctx, fmt.Sprintf(`SELECT id, pii_key_id, %s FROM %s WHERE pii_key_id IS NOT NULL AND pii_key_id <> $1
				LIMIT $2 FOR UPDATE SKIP LOCKED`, strings.Join(cols, ", "), c.table), current, limit)
			if err != nil {
				return err
			}
			type row struct {
				id    uuid.UUID
				keyID string
				encs  [][]byte
			}
			var page []row
			for rows.Next() {
				rw := row{encs: make([][]byte, len(cols))}
				dst := []any{&rw.id, &rw.keyID}
				for i := range cols {
					dst = append(dst, &rw.encs[i])
				}
				if err := rows.Scan(dst...); err != nil {
					rows.Close()
					return err
				}
				page = append(page, rw)
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
			for _, rw := range page {
				args := []any{rw.id, current}
				for i, col := range cols {
					ctxOf := contextOf(c.table, col)
					plain, err := r.keys.Open(rw.keyID, rw.encs[i], ctxOf(rw.id))
					if err != nil {
						return fmt.Errorf("reseal %s.%s of %s: %w", c.table, col, rw.id, err)
					}
					_, enc := r.keys.Seal(plain, ctxOf(rw.id))
					args = append(args, enc)
				}
				set := ""
				for i, col := range cols {
					set += fmt.Sprintf(", %s = $%d", col, i+3)
				}
				if _, err := tx.Exec(ctx, fmt.Sprintf(`UPDATE %s SET pii_key_id = $2%s WHERE id = $1`, c.table, set), args...); err != nil {
					return fmt.Errorf("reseal %s %s: %w", c.table, rw.id, err)
				}
			}
			done = len(page)
			return nil
		})
		if err != nil {
			return total, err
		}
		total += done
	}
	return total, nil
}

func contextOf(table, column string) func(uuid.UUID) string {
	i := slices.IndexFunc(sealedColumns, func(c sealedColumn) bool { return c.table == table && c.column == column })
	return sealedColumns[i].context
}
