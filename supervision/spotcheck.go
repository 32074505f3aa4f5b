package supervision

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"sort"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/crowdledger/crowdledger/internal/pg"
)

// SpotCheck is a random draw of campaigns and inspectors (双随机). It is
// made in two steps so nobody can steer it: Commit draws a secret seed with
// crypto/rand and publishes only a commitment to it (SHA-256 of a random
// salt and the seed); Draw then draws with that seed and reveals it. A
// regulator never chooses the seed, cannot try seeds offline, and anyone
// can check afterwards that the seed matches the commitment made before
// the draw and that it draws the published campaigns from the published
// pool.
type SpotCheck struct {
	ID          uuid.UUID
	State       string // committed, drawn
	Commitment  string // hex SHA-256(salt || seed as 8 bytes big-endian)
	Seed        int64  // secret until drawn
	Salt        []byte // secret until drawn
	K           int
	Filter      Filter
	Candidates  []string // the inspectors to draw from
	CommittedBy string
	CommittedAt time.Time
	Pool        []uuid.UUID // the campaigns the filter matched at the draw
	Campaigns   []uuid.UUID
	Inspectors  []string
	DrawnBy     *string
	DrawnAt     *time.Time
	Results     *string
	Published   bool
}

// Spot-check states.
const (
	Committed = "committed"
	Drawn     = "drawn"
)

// Filter narrows the campaigns a spot check draws from.
type Filter struct {
	Kind  string `json:"kind,omitempty"`
	State string `json:"state,omitempty"`
}

// SeedCommitment is the hex SHA-256 of the salt followed by the seed as 8
// bytes, big-endian: `printf '%s%016x' SALT SEED | xxd -r -p | sha256sum`.
func SeedCommitment(salt []byte, seed int64) string {
	b := binary.BigEndian.AppendUint64(append([]byte(nil), salt...), uint64(seed))
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// Commit starts a spot check of k campaigns (matching the filter) and k of
// the inspectors: the service draws the seed and publishes its commitment.
func (s *Service) Commit(ctx context.Context, k int, filter Filter, inspectors []string) (SpotCheck, error) {
	if k < 1 || k > 1000 {
		return SpotCheck{}, invalid("k", errors.New("must be 1 to 1000"))
	}
	if len(inspectors) < k {
		return SpotCheck{}, invalid("inspectors", fmt.Errorf("need at least k (%d) inspectors", k))
	}
	var raw [24]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return SpotCheck{}, fmt.Errorf("spot-check seed: %w", err)
	}
	sc := SpotCheck{ID: uuid.New(), State: Committed, Seed: int64(binary.BigEndian.Uint64(raw[:8])), Salt: raw[8:], K: k, Filter: filter,
		Candidates: append([]string(nil), inspectors...), CommittedBy: actor(ctx)}
	sc.Commitment = SeedCommitment(sc.Salt, sc.Seed)
	err := pg.InTx(ctx, s.db, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `INSERT INTO spot_checks (id, state, seed, salt, commitment, k, filter, candidates, committed_by)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING committed_at`,
			sc.ID, sc.State, sc.Seed, sc.Salt, sc.Commitment, k, filter, sc.Candidates, sc.CommittedBy).Scan(&sc.CommittedAt); err != nil {
			return err
		}
		// The audit trail carries the commitment, never the seed before the draw.
		return record(ctx, tx, "supervision.spot_check.commit", []string{sc.ID.String()}, map[string]any{"commitment": sc.Commitment, "k": k,
			"filter": filter, "candidates": len(inspectors)})
	})
	return sc, err
}

// Draw draws a committed spot check with its seed: the campaigns matching
// the filter now, sorted by id and shuffled; the inspectors likewise. The
// seed and salt are revealed from here on.
func (s *Service) Draw(ctx context.Context, id uuid.UUID) (SpotCheck, error) {
	var sc SpotCheck
	err := pg.InTx(ctx, s.db, func(tx pgx.Tx) error {
		var err error
		if sc, err = spotCheck(ctx, tx, id, false, true); err != nil {
			return err
		}
		if sc.State != Committed {
			return ErrDrawn
		}
		rows, err := tx.Query(ctx, `SELECT id FROM campaigns WHERE ($1 = '' OR kind = $1) AND ($2 = '' OR state = $2) ORDER BY id`, sc.Filter.Kind, sc.Filter.State)
		if err != nil {
			return err
		}
		if sc.Pool, err = pgx.CollectRows(rows, pgx.RowTo[uuid.UUID]); err != nil {
			return err
		}
		sc.Campaigns, sc.Inspectors = DrawIDs(sc.Seed, sc.Pool, sc.K), DrawInspectors(sc.Seed, sc.Candidates, sc.K)
		sc.State, sc.DrawnBy = Drawn, new(actor(ctx))
		if err := tx.QueryRow(ctx, `UPDATE spot_checks SET state = $2, pool = $3, pool_size = $4, campaigns = $5, inspectors = $6, drawn_by = $7,
				drawn_at = clock_timestamp() WHERE id = $1 RETURNING drawn_at`,
			id, sc.State, sc.Pool, len(sc.Pool), sc.Campaigns, sc.Inspectors, *sc.DrawnBy).Scan(&sc.DrawnAt); err != nil {
			return err
		}
		return record(ctx, tx, "supervision.spot_check.draw", []string{id.String()}, map[string]any{"seed": sc.Seed, "salt": hex.EncodeToString(sc.Salt),
			"commitment": sc.Commitment, "pool_size": len(sc.Pool), "campaigns": sc.Campaigns, "inspectors": sc.Inspectors})
	})
	return sc, err
}

// DrawIDs is the deterministic campaign draw: sort, shuffle with the seed, take k.
func DrawIDs(seed int64, pool []uuid.UUID, k int) []uuid.UUID {
	ids := append([]uuid.UUID{}, pool...)
	sort.Slice(ids, func(i, j int) bool { return ids[i].String() < ids[j].String() })
	rng := mrand.New(mrand.NewPCG(uint64(seed), uint64(seed)^0x51a3d1b7))
	rng.Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
	if k < len(ids) {
		ids = ids[:k]
	}
	return ids
}

// DrawInspectors is the deterministic inspector draw, on a stream of its
// own so the two draws are independent.
func DrawInspectors(seed int64, candidates []string, k int) []string {
	sorted := append([]string(nil), candidates...)
	sort.Strings(sorted)
	rng := mrand.New(mrand.NewPCG(uint64(seed), uint64(seed)^0x9e3779b97f4a7c15))
	rng.Shuffle(len(sorted), func(i, j int) { sorted[i], sorted[j] = sorted[j], sorted[i] })
	if k < len(sorted) {
		sorted = sorted[:k]
	}
	return sorted
}

// Publish records a drawn spot check's results and makes it public (一公开).
func (s *Service) Publish(ctx context.Context, id uuid.UUID, results string) (SpotCheck, error) {
	if results == "" {
		return SpotCheck{}, invalid("results", errors.New("publish the results"))
	}
	err := pg.InTx(ctx, s.db, func(tx pgx.Tx) error {
		sc, err := spotCheck(ctx, tx, id, false, true)
		if err != nil {
			return err
		}
		if sc.State != Drawn {
			return ErrNotDrawn
		}
		if _, err := tx.Exec(ctx, `UPDATE spot_checks SET results = $2, published = true WHERE id = $1`, id, results); err != nil {
			return err
		}
		return record(ctx, tx, "supervision.spot_check.publish", []string{id.String()}, map[string]any{"results": results})
	})
	if err != nil {
		return SpotCheck{}, err
	}
	return s.SpotCheck(ctx, id, false)
}

// SpotCheck reads one; publicOnly hides unpublished ones.
func (s *Service) SpotCheck(ctx context.Context, id uuid.UUID, publicOnly bool) (SpotCheck, error) {
	return spotCheck(ctx, s.db, id, publicOnly, false)
}

const spotCheckColumns = `id, state, seed, coalesce(salt, ''::bytea), coalesce(commitment, ''), k, filter, coalesce(candidates, '{}'),
	coalesce(committed_by, ''), committed_at, coalesce(pool, '{}'), coalesce(campaigns, '{}'), coalesce(inspectors, '{}'), drawn_by, drawn_at,
	results, published`

func scanSpotCheck(row pgx.Row) (SpotCheck, error) {
	var sc SpotCheck
	err := row.Scan(&sc.ID, &sc.State, &sc.Seed, &sc.Salt, &sc.Commitment, &sc.K, &sc.Filter, &sc.Candidates,
		&sc.CommittedBy, &sc.CommittedAt, &sc.Pool, &sc.Campaigns, &sc.Inspectors, &sc.DrawnBy, &sc.DrawnAt, &sc.Results, &sc.Published)
	sc.CommittedAt = sc.CommittedAt.UTC()
	return sc, err
}

func spotCheck(ctx context.Context, db pg.DBTX, id uuid.UUID, publicOnly, lock bool) (SpotCheck, error) {
	q := `SELECT ` + spotCheckColumns + ` FROM spot_checks WHERE id = $1 AND (published OR NOT $2)`
	if lock {
		q += ` FOR UPDATE`
	}
	sc, err := scanSpotCheck(db.QueryRow(ctx, q, id, publicOnly))
	if errors.Is(err, pgx.ErrNoRows) {
		return sc, ErrNotFound
	}
	return sc, err
}
