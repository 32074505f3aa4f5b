package registry

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/crowdledger/crowdledger/compliance"
	"github.com/crowdledger/crowdledger/internal/pg"
)

// FactsQuery names what a batch of commitments needs to know of its
// parties, for the rules to decide every commitment in memory.
type FactsQuery struct {
	Parties   []uuid.UUID    // investors and issuers: locked, read, checked against the black list
	Related   [][2]uuid.UUID // (issuer, investor) pairs: declared related?
	Decisions []DecisionKey  // the latest qualification decision of each (party, pack)
	At        time.Time      // the instant the lists are read at
}

// DecisionKey names a party's qualification under a rule pack.
type DecisionKey struct {
	Party uuid.UUID
	Pack  string
}

// PartyFacts is what the rules know of one party.
type PartyFacts struct {
	Role        string
	Verified    bool
	Blacklisted bool
}

// Facts answers a FactsQuery. Its maps are filled when the batch it was
// queued in is read, and the decisions when Open runs after that.
type Facts struct {
	Parties   map[uuid.UUID]PartyFacts
	Related   map[[2]uuid.UUID]bool
	Decisions map[DecisionKey]*compliance.Decision

	sealed []sealedDecision
}

type sealedDecision struct {
	key   DecisionKey
	id    uuid.UUID
	enc   []byte
	keyID string
}

// QueueFacts queues, into b, the reads a batch of commitments needs from
// the registry: the parties locked FOR UPDATE in id order (so that racing
// commitments of one investor run one after the other, and campaigns are
// locked before parties by every caller), whether each is on the black
// list (by party or by document), the declared relations, and the latest
// qualification decisions. Call Open on the result once b is read.
func (r *Registry) QueueFacts(b *pgx.Batch, q FactsQuery) *Facts {
	f := &Facts{Parties: map[uuid.UUID]PartyFacts{}, Related: map[[2]uuid.UUID]bool{}, Decisions: map[DecisionKey]*compliance.Decision{}}
	ids := pg.UUIDs(q.Parties)
	b.Queue(`SELECT id, role, status, EXISTS (SELECT 1 FROM list_entries e
			WHERE e.list = 'black' AND (e.party_id = p.id OR e.doc_lookup = p.doc_lookup)
			  AND e.effective_from <= $2 AND (e.effective_to IS NULL OR e.effective_to > $2)
			  AND (e.ended_at IS NULL OR e.ended_at > $2))
		FROM parties p WHERE id = ANY($1) ORDER BY id FOR UPDATE`, ids, q.At).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			var id uuid.UUID
			var p PartyFacts
			var status string
			if err := rows.Scan(&id, &p.Role, &status, &p.Blacklisted); err != nil {
				return err
			}
			p.Verified = status == StatusVerified
			f.Parties[id] = p
		}
		return rows.Err()
	})
	if len(q.Related) > 0 {
		iss, inv := make([]uuid.UUID, len(q.Related)), make([]uuid.UUID, len(q.Related))
		for i, p := range q.Related {
			iss[i], inv[i] = p[0], p[1]
		}
		b.Queue(`SELECT r.issuer_id, r.related_id FROM unnest($1::uuid[], $2::uuid[]) AS u(iss, inv)
			JOIN party_relations r ON r.issuer_id = u.iss AND r.related_id = u.inv`, pg.UUIDs(iss), pg.UUIDs(inv)).Query(func(rows pgx.Rows) error {
			for rows.Next() {
				var a, b uuid.UUID
				if err := rows.Scan(&a, &b); err != nil {
					return err
				}
				f.Related[[2]uuid.UUID{a, b}] = true
			}
			return rows.Err()
		})
	}
	if len(q.Decisions) > 0 {
		parties, packs := make([]uuid.UUID, len(q.Decisions)), make([]string, len(q.Decisions))
		for i, d := range q.Decisions {
			parties[i], packs[i] = d.Party, d.Pack
		}
		b.Queue(`SELECT u.party, u.pack, d.id, d.detail_enc, d.pii_key_id FROM unnest($1::uuid[], $2::text[]) AS u(party, pack)
			CROSS JOIN LATERAL (SELECT id, detail_enc, pii_key_id FROM qualifications q
				WHERE q.party_id = u.party AND q.pack = u.pack
				  AND EXISTS (SELECT 1 FROM qualification_approvals a WHERE a.qualification_id = q.id)
				ORDER BY decided_at DESC LIMIT 1) d`, pg.UUIDs(parties), packs).Query(func(rows pgx.Rows) error {
			for rows.Next() {
				var s sealedDecision
				if err := rows.Scan(&s.key.Party, &s.key.Pack, &s.id, &s.enc, &s.keyID); err != nil {
					return err
				}
				f.sealed = append(f.sealed, s)
			}
			return rows.Err()
		})
	}
	return f
}

// Open decrypts the decisions read; call it once the batch is read.
func (r *Registry) Open(f *Facts) error {
	for _, s := range f.sealed {
		d, err := r.decision(s)
		if err != nil {
			return err
		}
		f.Decisions[s.key] = d
	}
	f.sealed = nil
	return nil
}

func (r *Registry) decision(s sealedDecision) (*compliance.Decision, error) {
	if d, ok := r.decided.Load(s.id); ok {
		return d.(*compliance.Decision), nil
	}
	raw, err := r.keys.Open(s.keyID, s.enc, "qualification:"+s.id.String())
	if err != nil {
		return nil, err
	}
	var detail storedDetail
	if err := json.Unmarshal(raw, &detail); err != nil {
		return nil, fmt.Errorf("qualification %s: %w", s.id, err)
	}
	d, err := detail.Decision.decision()
	if err != nil {
		return nil, fmt.Errorf("qualification %s: %w", s.id, err)
	}
	r.decided.Store(s.id, &d)
	return &d, nil
}
