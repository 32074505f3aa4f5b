package idempotency

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/crowdledger/crowdledger/internal/pg"
)

// ErrConflict: the key was used before with a different request.
var ErrConflict = errors.New("idempotency key reused with a different request")

// Request identifies one command: whose key it is, the key, and a hash of
// the request it was first sent with.
type Request struct {
	Scope string   // who the key belongs to (a party, or an API key for staff)
	Key   string   // the client's Idempotency-Key
	Hash  [32]byte // Hash of the method, path and canonical body
}

// Response is what a command answered, stored so that a retry gets the same
// bytes. Only successful (2xx) responses are stored: a refused request
// changed nothing, so a retry with the same key runs again.
type Response struct {
	Status      int
	ContentType string
	Location    string
	Body        []byte
}

func (r Response) storable() bool { return r.Status >= 200 && r.Status < 300 }

// Hash is the request hash: SHA-256 over the parts that make two requests
// the same command, each length-prefixed so that no two part lists hash
// alike.
func Hash(parts ...[]byte) [32]byte {
	h := sha256.New()
	for _, p := range parts {
		fmt.Fprintf(h, "%d:", len(p))
		h.Write(p)
	}
	var out [32]byte
	copy(out[:], h.Sum(nil))
	return out
}

// Store keeps the keys.
type Store struct {
	db     *pgxpool.Pool
	sealer Sealer
}

// Sealer encrypts the stored answers (pii.Keyring does): an answer can
// carry what a command decided about a person (a qualification's figures,
// which follow from income), so no answer is stored in the clear.
type Sealer interface {
	Seal(plaintext []byte, context string) (keyID string, sealed []byte)
	Open(keyID string, sealed []byte, context string) ([]byte, error)
	Has(keyID string) bool
	CurrentKeyID() string
}

// New returns a store on pool whose answers sealer encrypts.
func New(pool *pgxpool.Pool, sealer Sealer) *Store { return &Store{db: pool, sealer: sealer} }

// sealed is an answer's body as stored.
type sealed struct {
	keyID string
	body  []byte
}

// bodyContext binds a sealed body to its key: a body moved to another row
// does not open.
func bodyContext(req Request) string { return "idempotency:" + req.Scope + "\n" + req.Key }

func (s *Store) seal(req Request, resp Response) sealed {
	keyID, body := s.sealer.Seal(resp.Body, bodyContext(req))
	return sealed{keyID: keyID, body: body}
}

// Do runs fn once per (scope, key). fn gets a context carrying the
// transaction (pg.WithTx), in which every pg.InTx of the domain runs, and
// returns the response to store. The claim, fn's writes and the response
// commit together. A retry of the same request returns the stored response
// with replayed set and does not call fn; a retry with another request is
// ErrConflict. fn may run more than once when the database asks for a retry
// (serialization failure, deadlock), so it must have no effects outside the
// database. A response that is not 2xx, or an error, rolls everything back.
func (s *Store) Do(ctx context.Context, req Request, fn func(ctx context.Context) (Response, error)) (resp Response, replayed bool, err error) {
	err = pg.Retry(ctx, func() error {
		replayed = false
		return pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
			// Copies of one request queue here until the first commits or
			// rolls back; the lock goes with the transaction.
			if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended($1, 7))`, req.Scope+"\n"+req.Key); err != nil {
				return fmt.Errorf("claim idempotency key: %w", err)
			}
			stored, found, err := s.lookup(ctx, tx, req)
			if err != nil || found {
				resp, replayed = stored, found
				return err
			}
			resp, err = fn(pg.WithTx(ctx, tx))
			if err != nil {
				return err
			}
			if !resp.storable() {
				return errNotStored
			}
			return s.insert(ctx, tx, req, resp)
		})
	})
	if errors.Is(err, errNotStored) {
		return resp, false, nil
	}
	if err != nil {
		return Response{}, false, err
	}
	return resp, replayed, nil
}

// errNotStored rolls back a command that answered with a refusal.
var errNotStored = errors.New("response not stored")

// Lookup returns the stored response for a command that goes through a
// group-commit writer, if there is one.
func (s *Store) Lookup(ctx context.Context, req Request) (Response, bool, error) {
	return s.lookup(ctx, s.db, req)
}

// Save stores the response of a command whose effect carried the key
// itself. If a copy of the command saved first, its response is returned
// with replayed set, so every copy answers the same bytes.
func (s *Store) Save(ctx context.Context, req Request, resp Response) (Response, bool, error) {
	if !resp.storable() {
		return resp, false, nil
	}
	sb := s.seal(req, resp)
	tag, err := s.db.Exec(ctx, `INSERT INTO idempotency_keys (scope, key, request_hash, status, content_type, location, body, pii_key_id)
		VALUES ($1, $2, $3, $4, $5, NULLIF($6, ''), $7, $8) ON CONFLICT (scope, key) DO NOTHING`,
		req.Scope, req.Key, req.Hash[:], resp.Status, resp.ContentType, resp.Location, sb.body, sb.keyID)
	if err != nil {
		return Response{}, false, fmt.Errorf("save idempotent response: %w", err)
	}
	if tag.RowsAffected() == 1 {
		return resp, false, nil
	}
	stored, found, err := s.lookup(ctx, s.db, req)
	if err != nil {
		return Response{}, false, err
	}
	if !found {
		return Response{}, false, fmt.Errorf("idempotency key %q vanished while saving", req.Key)
	}
	return stored, true, nil
}

type queryRower interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

func (s *Store) lookup(ctx context.Context, q queryRower, req Request) (Response, bool, error) {
	var (
		hash     []byte
		resp     Response
		location *string
		keyID    *string
	)
	err := q.QueryRow(ctx, `SELECT request_hash, status, content_type, location, body, pii_key_id FROM idempotency_keys WHERE scope = $1 AND key = $2`,
		req.Scope, req.Key).Scan(&hash, &resp.Status, &resp.ContentType, &location, &resp.Body, &keyID)
	if errors.Is(err, pgx.ErrNoRows) {
		return Response{}, false, nil
	}
	if err != nil {
		return Response{}, false, fmt.Errorf("look up idempotency key: %w", err)
	}
	if string(hash) != string(req.Hash[:]) {
		return Response{}, false, ErrConflict
	}
	if location != nil {
		resp.Location = *location
	}
	if keyID != nil { // answers stored before they were sealed (migration 023) are read as they are
		if resp.Body, err = s.sealer.Open(*keyID, resp.Body, bodyContext(req)); err != nil {
			return Response{}, false, fmt.Errorf("open the stored answer of idempotency key %q: %w", req.Key, err)
		}
	}
	return resp, true, nil
}

func (s *Store) insert(ctx context.Context, tx pgx.Tx, req Request, resp Response) error {
	sb := s.seal(req, resp)
	_, err := tx.Exec(ctx, `INSERT INTO idempotency_keys (scope, key, request_hash, status, content_type, location, body, pii_key_id)
		VALUES ($1, $2, $3, $4, $5, NULLIF($6, ''), $7, $8)`,
		req.Scope, req.Key, req.Hash[:], resp.Status, resp.ContentType, resp.Location, sb.body, sb.keyID)
	if err != nil {
		return fmt.Errorf("store idempotent response: %w", err)
	}
	return nil
}

// Purge deletes keys older than keep, a page at a time so that no long
// transaction holds the table; it returns how many it deleted. Every
// process may run it at once.
func (s *Store) Purge(ctx context.Context, keep time.Duration, now time.Time) (int64, error) {
	var total int64
	for {
		tag, err := s.db.Exec(ctx, `DELETE FROM idempotency_keys WHERE ctid = ANY (ARRAY(
			SELECT ctid FROM idempotency_keys WHERE created_at < $1 ORDER BY created_at LIMIT 1000 FOR UPDATE SKIP LOCKED))`, now.Add(-keep))
		if err != nil {
			return total, fmt.Errorf("purge idempotency keys: %w", err)
		}
		total += tag.RowsAffected()
		if tag.RowsAffected() < 1000 || ctx.Err() != nil {
			return total, ctx.Err()
		}
	}
}

// Receipt is how a command served by a group-commit writer stores its
// answer in the writer's own transaction: the writer renders the answer
// from the command's result once the result is known and queues it
// (QueueAnswers) with the command's writes, so the effect and the answer
// commit together, and one batch commit covers a batch's answers.
type Receipt[T any] struct {
	Request Request
	render  func(T) (Response, error)
	store   *Store
	// Stored is set by the writer once the answer is queued with the
	// effect, and Answer to that answer; both are read after the writer has
	// handed back the result.
	Stored bool
	Answer Response
}

// NewReceipt is the receipt of the command req, whose answer render makes
// from its result, stored (sealed) in s.
func NewReceipt[T any](s *Store, req Request, render func(T) (Response, error)) *Receipt[T] {
	return &Receipt[T]{Request: req, render: render, store: s}
}

// QueueAnswers renders the answers of the receipts (nil ones are skipped)
// from their commands' results and queues their insert into b, sealed. A key
// already stored (a copy of the command answered first) keeps its first
// answer.
func QueueAnswers[T any](b *pgx.Batch, receipts []*Receipt[T], results []T) error {
	var (
		scopes, keys, types, locations, keyIDs []string
		hashes, bodies                         [][]byte
		statuses                               []int16
	)
	for i, rc := range receipts {
		if rc == nil {
			continue
		}
		resp, err := rc.render(results[i])
		if err != nil {
			return fmt.Errorf("render the answer for %s: %w", rc.Request.Key, err)
		}
		rc.Stored, rc.Answer = true, resp
		sb := rc.store.seal(rc.Request, resp)
		scopes, keys, hashes = append(scopes, rc.Request.Scope), append(keys, rc.Request.Key), append(hashes, rc.Request.Hash[:])
		statuses, types, locations = append(statuses, int16(resp.Status)), append(types, resp.ContentType), append(locations, resp.Location)
		bodies, keyIDs = append(bodies, sb.body), append(keyIDs, sb.keyID)
	}
	if len(scopes) == 0 {
		return nil
	}
	b.Queue(`INSERT INTO idempotency_keys (scope, key, request_hash, status, content_type, location, body, pii_key_id)
		SELECT u.scope, u.key, u.hash, u.status, u.ctype, NULLIF(u.loc, ''), u.body, u.kid
		FROM unnest($1::text[], $2::text[], $3::bytea[], $4::int2[], $5::text[], $6::text[], $7::bytea[], $8::text[])
			AS u(scope, key, hash, status, ctype, loc, body, kid)
		ON CONFLICT (scope, key) DO NOTHING`, scopes, keys, hashes, statuses, types, locations, bodies, keyIDs)
	return nil
}

// QueueCheck queues, into b, the look-up of keys a writer's batch is about
// to answer, and returns the function that reads its result: the stored
// request hash by key (Request.Scope and Key), or none. A writer reading
// one that differs from its request's answers ErrConflict; one that matches
// is a retry of an answered command.
func QueueCheck(b *pgx.Batch, reqs []Request) func() map[[2]string][]byte {
	found := map[[2]string][]byte{}
	if len(reqs) == 0 {
		return func() map[[2]string][]byte { return found }
	}
	scopes, keys := make([]string, len(reqs)), make([]string, len(reqs))
	for i, r := range reqs {
		scopes[i], keys[i] = r.Scope, r.Key
	}
	b.Queue(`SELECT k.scope, k.key, k.request_hash FROM unnest($1::text[], $2::text[]) AS u(scope, key)
		JOIN idempotency_keys k ON k.scope = u.scope AND k.key = u.key`, scopes, keys).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			var scope, key string
			var hash []byte
			if err := rows.Scan(&scope, &key, &hash); err != nil {
				return err
			}
			found[[2]string{scope, key}] = hash
		}
		return rows.Err()
	})
	return func() map[[2]string][]byte { return found }
}

// Matches reports how a stored hash (from QueueCheck) meets req: not
// stored, stored for this request, or a conflict.
func (req Request) Matches(stored map[[2]string][]byte) (found bool, err error) {
	h, ok := stored[[2]string{req.Scope, req.Key}]
	if !ok {
		return false, nil
	}
	if string(h) != string(req.Hash[:]) {
		return true, ErrConflict
	}
	return true, nil
}
