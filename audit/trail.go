package audit

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/crowdledger/crowdledger/internal/export"
	"github.com/crowdledger/crowdledger/internal/pg"
)

const insertSQL = `INSERT INTO audit_events (actor_key_id, actor_role, actor_subject, action, object_ids, request_id, facts)
SELECT u.key, u.role, u.subject, u.action, string_to_array(u.objects, E'\x1f'), u.rid, u.facts::jsonb
FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[])
	AS u(key, role, subject, action, objects, rid, facts)`

// QueueAppend adds the events' insert to a statement pipeline that runs in
// the transaction making the change they record.
func QueueAppend(b *pgx.Batch, events []Event) {
	if len(events) == 0 {
		return
	}
	n := len(events)
	keys := make([]pgtype.UUID, n)
	roles, subjects, actions, objects, rids, facts := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	for i, e := range events {
		if e.Actor.KeyID != uuid.Nil {
			keys[i] = pgtype.UUID{Bytes: e.Actor.KeyID, Valid: true}
		}
		roles[i], subjects[i], actions[i], rids[i], facts[i] = e.Actor.Role, e.Actor.Subject, e.Action, e.RequestID, string(e.Facts)
		for j, o := range e.ObjectIDs {
			if j > 0 {
				objects[i] += "\x1f"
			}
			objects[i] += o
		}
		if len(e.Facts) == 0 {
			facts[i] = "{}"
		}
	}
	b.Queue(insertSQL, keys, roles, subjects, actions, objects, rids, facts)
}

// Append inserts events inside the caller's transaction.
func Append(ctx context.Context, tx interface {
	SendBatch(context.Context, *pgx.Batch) pgx.BatchResults
}, events ...Event) error {
	b := &pgx.Batch{}
	QueueAppend(b, events)
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("append audit events: %w", err)
	}
	return nil
}

// Trail links and verifies the chain.
type Trail struct {
	db              pg.Pool
	signer          *Signer
	keys            []PublicKey
	CheckpointEvery int64
	CheckpointAge   time.Duration
}

// NewTrail returns a trail that signs with signer; extra keys (retired
// signing keys) are accepted when verifying.
func NewTrail(db *pgxpool.Pool, signer *Signer, retired ...PublicKey) *Trail {
	keys := append([]PublicKey{signer.Public()}, retired...)
	return &Trail{db: pg.Units(db), signer: signer, keys: keys, CheckpointEvery: 1000, CheckpointAge: 24 * time.Hour}
}

// PublicKeys are the keys checkpoints may be signed with, current first.
func (t *Trail) PublicKeys() []PublicKey { return t.keys }

// chainLock keys the advisory lock that makes one chainer run at a time.
const chainLock = 7411092302

// Link runs one chainer round: it links every event whose transaction has
// ended since the last round, and signs a checkpoint when due. If another
// process holds the chainer lock it returns at once. It returns how many
// events it linked.
func (t *Trail) Link(ctx context.Context) (int, error) {
	tx, err := t.db.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead})
	if err != nil {
		return 0, fmt.Errorf("chainer: %w", err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck
	var got bool
	var xmin int64
	if err := tx.QueryRow(ctx, `SELECT pg_try_advisory_xact_lock($1), pg_snapshot_xmin(pg_current_snapshot())::text::bigint`, chainLock).Scan(&got, &xmin); err != nil {
		return 0, fmt.Errorf("chainer lock: %w", err)
	}
	if !got {
		return 0, nil
	}
	var (
		pos      int64
		prev     = GenesisHash
		lastXmin int64
	)
	err = tx.QueryRow(ctx, `SELECT pos, hash, round_xmin FROM audit_chain ORDER BY pos DESC LIMIT 1`).Scan(&pos, &prev, &lastXmin)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return 0, fmt.Errorf("chain head: %w", err)
	}
	// A scalar probe of audit_chain's unique index per event, not NOT
	// EXISTS: the planner turned that into a hash anti-join that read the
	// whole chain every round, so chaining slowed as the chain grew.
	rows, err := tx.Query(ctx, `SELECT `+eventColumns+` FROM audit_events e
		WHERE e.xid >= $1 AND e.xid < $2
		  AND (SELECT true FROM audit_chain c WHERE c.event_seq = e.seq) IS NULL
		ORDER BY e.seq`, lastXmin, xmin)
	if err != nil {
		return 0, fmt.Errorf("chainer: read events: %w", err)
	}
	var poss, seqs []int64
	var hashes [][]byte
	for rows.Next() {
		e, err := scanEvent(rows)
		if err != nil {
			rows.Close()
			return 0, err
		}
		h, err := HashLink(prev, e)
		if err != nil {
			rows.Close()
			return 0, err
		}
		pos++
		poss, seqs, hashes = append(poss, pos), append(seqs, e.Seq), append(hashes, h)
		prev = h
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("chainer: read events: %w", err)
	}
	if len(poss) > 0 {
		if _, err := tx.Exec(ctx, `INSERT INTO audit_chain (pos, event_seq, hash, round_xmin)
			SELECT u.pos, u.seq, u.hash, $4 FROM unnest($1::int8[], $2::int8[], $3::bytea[]) AS u(pos, seq, hash)`,
			poss, seqs, hashes, xmin); err != nil {
			return 0, fmt.Errorf("chainer: link: %w", err)
		}
	}
	if pos > 0 {
		if err := t.maybeCheckpoint(ctx, tx, pos, prev); err != nil {
			return 0, err
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, fmt.Errorf("chainer: commit: %w", err)
	}
	return len(poss), nil
}

func (t *Trail) maybeCheckpoint(ctx context.Context, tx pgx.Tx, pos int64, head []byte) error {
	var lastPos int64
	var lastAt time.Time
	err := tx.QueryRow(ctx, `SELECT pos, signed_at FROM audit_checkpoints ORDER BY signed_at DESC LIMIT 1`).Scan(&lastPos, &lastAt)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("last checkpoint: %w", err)
	}
	due := errors.Is(err, pgx.ErrNoRows) || pos-lastPos >= t.CheckpointEvery || time.Since(lastAt) >= t.CheckpointAge
	if !due {
		return nil
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	if _, err := tx.Exec(ctx, `INSERT INTO audit_checkpoints (pos, hash, signed_at, key_id, signature) VALUES ($1, $2, $3, $4, $5)`,
		pos, head, now, t.signer.id, t.signer.sign(pos, head, now)); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	return nil
}

const eventColumns = `e.canon, e.seq, e.occurred_at, e.actor_key_id, e.actor_role, e.actor_subject, e.action, e.object_ids, e.request_id, e.facts::text`

func scanEvent(row pgx.Row) (Event, error) {
	var e Event
	var key pgtype.UUID
	var facts string
	if err := row.Scan(&e.Canon, &e.Seq, &e.OccurredAt, &key, &e.Actor.Role, &e.Actor.Subject, &e.Action, &e.ObjectIDs, &e.RequestID, &facts); err != nil {
		return Event{}, fmt.Errorf("scan audit event: %w", err)
	}
	if key.Valid {
		e.Actor.KeyID = key.Bytes
	}
	e.OccurredAt = e.OccurredAt.UTC()
	e.Facts = json.RawMessage(facts)
	return e, nil
}

// walk streams chain positions from..to (to <= 0: the head) with their
// events, the checkpoints in range, and the hash before from.
func (t *Trail) walk(ctx context.Context, from, to int64, onStart func(prev []byte, cps []Checkpoint) error, onLink func(Link) error) error {
	if from < 1 {
		from = 1
	}
	tx, err := t.db.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx) //nolint:errcheck
	if to <= 0 {
		if err := tx.QueryRow(ctx, `SELECT coalesce(max(pos), 0) FROM audit_chain`).Scan(&to); err != nil {
			return err
		}
	}
	prev := GenesisHash
	if from > 1 {
		if err := tx.QueryRow(ctx, `SELECT hash FROM audit_chain WHERE pos = $1`, from-1).Scan(&prev); err != nil {
			return fmt.Errorf("hash before position %d: %w", from, err)
		}
	}
	rows, err := tx.Query(ctx, `SELECT pos, hash, signed_at, key_id, signature FROM audit_checkpoints WHERE pos BETWEEN $1 AND $2 ORDER BY pos, signed_at`, from, to)
	if err != nil {
		return err
	}
	cps, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Checkpoint, error) {
		var c Checkpoint
		err := r.Scan(&c.Pos, &c.Hash, &c.SignedAt, &c.KeyID, &c.Signature)
		c.SignedAt = c.SignedAt.UTC()
		return c, err
	})
	if err != nil {
		return err
	}
	if err := onStart(prev, cps); err != nil {
		return err
	}
	rows, err = tx.Query(ctx, `SELECT c.pos, c.event_seq, c.hash, e.seq IS NOT NULL, coalesce(e.canon, 1), `+
		`coalesce(e.seq, 0), coalesce(e.occurred_at, 'epoch'), e.actor_key_id, coalesce(e.actor_role, ''), coalesce(e.actor_subject, ''),
		 coalesce(e.action, ''), coalesce(e.object_ids, '{}'), coalesce(e.request_id, ''), coalesce(e.facts::text, '{}')
		FROM audit_chain c LEFT JOIN audit_events e ON e.seq = c.event_seq
		WHERE c.pos BETWEEN $1 AND $2 ORDER BY c.pos`, from, to)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var l Link
		var present bool
		var e Event
		var key pgtype.UUID
		var facts string
		if err := rows.Scan(&l.Pos, &l.EventSeq, &l.Hash, &present, &e.Canon, &e.Seq, &e.OccurredAt, &key, &e.Actor.Role, &e.Actor.Subject,
			&e.Action, &e.ObjectIDs, &e.RequestID, &facts); err != nil {
			return err
		}
		if present {
			if key.Valid {
				e.Actor.KeyID = key.Bytes
			}
			e.OccurredAt = e.OccurredAt.UTC()
			e.Facts = json.RawMessage(facts)
			l.Event = &e
		}
		if err := onLink(l); err != nil {
			return err
		}
	}
	return rows.Err()
}

// Verify checks the chain from..to (to <= 0: the head) against the events
// and the signed checkpoints, and looks for events that were never chained.
func (t *Trail) Verify(ctx context.Context, from, to int64) (Report, error) {
	var v *Verifier
	err := t.walk(ctx, from, to, func(prev []byte, cps []Checkpoint) error {
		v = NewVerifier(max(from, 1), prev, t.keys, cps)
		return nil
	}, func(l Link) error { v.Add(l); return nil })
	if err != nil {
		return Report{}, fmt.Errorf("verify audit chain: %w", err)
	}
	// Final events below the chainer's last watermark must all be chained.
	rows, err := t.db.Query(ctx, `SELECT e.seq FROM audit_events e
		WHERE e.xid < (SELECT coalesce(max(round_xmin), 0) FROM audit_chain)
		  AND NOT EXISTS (SELECT 1 FROM audit_chain c WHERE c.event_seq = e.seq)
		ORDER BY e.seq LIMIT 1000`)
	if err != nil {
		return Report{}, fmt.Errorf("verify: unchained events: %w", err)
	}
	seqs, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return Report{}, err
	}
	for _, s := range seqs {
		v.Unchained(s)
	}
	return v.Finish(), nil
}

// exportLine is one line of a JSON Lines export.
type exportLine struct {
	Type      string          `json:"type"`
	Pos       int64           `json:"pos,omitempty"`
	Hash      string          `json:"hash,omitempty"`
	PrevHash  string          `json:"prev_hash,omitempty"`
	EventSeq  int64           `json:"event_seq,omitempty"`
	Event     json.RawMessage `json:"event,omitempty"`
	SignedAt  *time.Time      `json:"signed_at,omitempty"`
	KeyID     string          `json:"key_id,omitempty"`
	Signature string          `json:"signature,omitempty"`
	From      int64           `json:"from_pos,omitempty"`
	Rows      int64           `json:"rows,omitempty"`
	SHA256    string          `json:"sha256,omitempty"`
}

// Export writes the chain from..to as JSON Lines: a header with the hash
// before from, the checkpoints, then one line per position with the event's
// canonical bytes. It streams: memory does not grow with the range.
func (t *Trail) Export(ctx context.Context, w io.Writer, from, to int64) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	d := export.New(bw) // each link is a row; a trailer line ends the file
	enc := json.NewEncoder(d)
	err := t.walk(ctx, from, to, func(prev []byte, cps []Checkpoint) error {
		if err := enc.Encode(exportLine{Type: "header", From: max(from, 1), PrevHash: hex.EncodeToString(prev)}); err != nil {
			return err
		}
		for _, c := range cps {
			at := c.SignedAt
			if err := enc.Encode(exportLine{Type: "checkpoint", Pos: c.Pos, Hash: hex.EncodeToString(c.Hash), SignedAt: &at,
				KeyID: c.KeyID, Signature: base64.StdEncoding.EncodeToString(c.Signature)}); err != nil {
				return err
			}
		}
		return nil
	}, func(l Link) error {
		line := exportLine{Type: "link", Pos: l.Pos, Hash: hex.EncodeToString(l.Hash), EventSeq: l.EventSeq}
		if l.Event != nil {
			c, err := l.Event.Canonical()
			if err != nil {
				return err
			}
			line.Event = c
		}
		d.Row()
		return enc.Encode(line)
	})
	if err != nil {
		return fmt.Errorf("export audit chain: %w", err)
	}
	if _, err := io.WriteString(d, d.JSONLinesTrailer()); err != nil {
		return err
	}
	return bw.Flush()
}

// VerifyExport checks an exported JSON Lines file offline against the
// published public keys. An export is a header, its checkpoints, then its
// links in position order, then a trailer with the number of links and the
// SHA-256 of every line before it: a file without it was cut short.
func VerifyExport(r io.Reader, keys []PublicKey) (Report, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	var (
		v        *Verifier
		from     int64
		prev     []byte
		cps      []Checkpoint
		header   bool
		trailer  bool
		links    int64
		digest   = sha256.New()
		mismatch *Problem
	)
	for n := 1; sc.Scan(); n++ {
		if trailer {
			return Report{}, fmt.Errorf("line %d: a line after the trailer", n)
		}
		var l exportLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			return Report{}, fmt.Errorf("line %d: %w", n, err)
		}
		if l.Type == "trailer" {
			// A mismatch is a finding, not a stop: the chain's own check
			// below still says where the file was changed.
			if l.Rows != links || l.SHA256 != hex.EncodeToString(digest.Sum(nil)) {
				mismatch = &Problem{Kind: "trailer_mismatch", Detail: fmt.Sprintf("the trailer names %d links and sha256 %s; the file before it has %d links and another digest",
					l.Rows, l.SHA256, links)}
			}
			trailer = true
			continue
		}
		digest.Write(sc.Bytes())
		digest.Write([]byte{'\n'})
		if l.Type == "link" {
			links++
		}
		switch {
		case l.Type == "header" && !header:
			var err error
			if prev, err = hex.DecodeString(l.PrevHash); err != nil {
				return Report{}, fmt.Errorf("line %d: prev_hash: %w", n, err)
			}
			from, header = l.From, true
		case l.Type == "checkpoint" && header && v == nil:
			h, err1 := hex.DecodeString(l.Hash)
			sig, err2 := base64.StdEncoding.DecodeString(l.Signature)
			if err1 != nil || err2 != nil || l.SignedAt == nil {
				return Report{}, fmt.Errorf("line %d: malformed checkpoint", n)
			}
			cps = append(cps, Checkpoint{Pos: l.Pos, Hash: h, SignedAt: l.SignedAt.UTC(), KeyID: l.KeyID, Signature: sig})
		case l.Type == "link" && header:
			if v == nil {
				v = NewVerifier(from, prev, keys, cps)
			}
			h, err := hex.DecodeString(l.Hash)
			if err != nil {
				return Report{}, fmt.Errorf("line %d: hash: %w", n, err)
			}
			link := Link{Pos: l.Pos, EventSeq: l.EventSeq, Hash: h}
			if len(l.Event) > 0 {
				e, err := ParseCanonical(l.Event)
				if err != nil {
					return Report{}, fmt.Errorf("line %d: event: %w", n, err)
				}
				link.Event = &e
			}
			v.Add(link)
		default:
			return Report{}, fmt.Errorf("line %d: unexpected %q line", n, l.Type)
		}
	}
	if err := sc.Err(); err != nil {
		return Report{}, err
	}
	if !header {
		return Report{}, errors.New("no header line")
	}
	if !trailer {
		return Report{}, fmt.Errorf("%w: no trailer line", export.ErrCutShort)
	}
	if v == nil {
		v = NewVerifier(from, prev, keys, cps)
	}
	rep := v.Finish()
	if mismatch != nil {
		rep.OK, rep.Problems = false, append(rep.Problems, *mismatch)
	}
	return rep, nil
}

// LagStatus is how far the chain trails the events: for an operator's
// alerts (events waiting long means the chainer is stuck; an old
// checkpoint means nothing is being signed).
type LagStatus struct {
	Unchained       int64
	OldestUnchained time.Time
	LastCheckpoint  time.Time
}

// Lag reads the chain's lag, with the same index probes the chainer uses.
func (t *Trail) Lag(ctx context.Context) (LagStatus, error) {
	var (
		st     LagStatus
		oldest *time.Time
		last   *time.Time
	)
	err := t.db.QueryRow(ctx, `SELECT count(*), min(e.occurred_at),
			(SELECT max(signed_at) FROM audit_checkpoints)
		FROM audit_events e
		WHERE e.xid >= coalesce((SELECT round_xmin FROM audit_chain ORDER BY pos DESC LIMIT 1), 0)
		  AND (SELECT true FROM audit_chain c WHERE c.event_seq = e.seq) IS NULL`).Scan(&st.Unchained, &oldest, &last)
	if err != nil {
		return st, fmt.Errorf("audit chain lag: %w", err)
	}
	if oldest != nil {
		st.OldestUnchained = *oldest
	}
	if last != nil {
		st.LastCheckpoint = *last
	}
	return st, nil
}

// Head is the chain's state at a glance: its last position and the latest
// signed checkpoint (nil before the first), what a regulator compares with
// an offline copy.
type Head struct {
	Pos        int64       `json:"pos"`
	Checkpoint *Checkpoint `json:"checkpoint"`
}

// HeadPos reads the chain's last position (0 for an empty chain).
func (t *Trail) HeadPos(ctx context.Context) (int64, error) {
	var pos int64
	if err := t.db.QueryRow(ctx, `SELECT coalesce(max(pos), 0) FROM audit_chain`).Scan(&pos); err != nil {
		return 0, fmt.Errorf("audit chain head: %w", err)
	}
	return pos, nil
}

// Head reads the chain's last position and its latest checkpoint.
func (t *Trail) Head(ctx context.Context) (Head, error) {
	var h Head
	var err error
	if h.Pos, err = t.HeadPos(ctx); err != nil {
		return h, err
	}
	var cp Checkpoint
	err = t.db.QueryRow(ctx, `SELECT pos, hash, signed_at, key_id, signature FROM audit_checkpoints ORDER BY signed_at DESC, pos DESC LIMIT 1`).
		Scan(&cp.Pos, &cp.Hash, &cp.SignedAt, &cp.KeyID, &cp.Signature)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return h, nil
	case err != nil:
		return h, fmt.Errorf("latest checkpoint: %w", err)
	}
	cp.SignedAt = cp.SignedAt.UTC()
	h.Checkpoint = &cp
	return h, nil
}
