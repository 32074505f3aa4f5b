package campaign

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/crowdledger/crowdledger/compliance"
	"github.com/crowdledger/crowdledger/idempotency"
	"github.com/crowdledger/crowdledger/internal/money"
	"github.com/crowdledger/crowdledger/internal/pg"
	"github.com/crowdledger/crowdledger/ledger"
	"github.com/crowdledger/crowdledger/registry"
)

// shape is what never changes about a campaign once created: who issues
// it, in what currency under which pack, and its escrow. The batch needs it
// before it takes any lock (to name the parties, totals and accounts to
// lock), so it is kept in memory.
type shape struct {
	issuer   uuid.UUID
	currency money.Currency
	pack     string
	kind     string
	escrow   uuid.UUID
}

// shapes returns the shapes of the jobs' campaigns, reading the ones not
// yet known; a campaign that does not exist is absent.
func (s *Service) shapes(ctx context.Context, jobs []*commitJob) (map[uuid.UUID]shape, error) {
	out := map[uuid.UUID]shape{}
	var missing []uuid.UUID
	for _, j := range jobs {
		id := j.in.CampaignID
		if _, ok := out[id]; ok {
			continue
		}
		if v, ok := s.shapeCache.Load(id); ok {
			out[id] = v.(shape)
			continue
		}
		out[id] = shape{}
		missing = append(missing, id)
	}
	if len(missing) > 0 {
		rows, err := s.db.Query(ctx, `SELECT id, issuer_id, currency, pack, kind, escrow_account_id FROM campaigns WHERE id = ANY($1)`, pg.UUIDs(missing))
		if err != nil {
			return nil, fmt.Errorf("campaign shapes: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var id uuid.UUID
			var sh shape
			var cur string
			if err := rows.Scan(&id, &sh.issuer, &cur, &sh.pack, &sh.kind, &sh.escrow); err != nil {
				return nil, err
			}
			if sh.currency, err = money.Lookup(cur); err != nil {
				return nil, err
			}
			s.shapeCache.Store(id, sh)
			out[id] = sh
		}
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	for id, sh := range out {
		if sh.issuer == uuid.Nil {
			delete(out, id)
		}
	}
	return out, nil
}

// wallets returns the wallet accounts of the jobs' investors in their
// campaigns' currencies, from memory where known: a wallet's account never
// changes once opened (one that does not exist yet is asked for again).
func (s *Service) wallets(ctx context.Context, jobs []*commitJob, shapes map[uuid.UUID]shape) (map[string]uuid.UUID, error) {
	out := map[string]uuid.UUID{}
	var missing []string
	for _, j := range jobs {
		sh, ok := shapes[j.in.CampaignID]
		if !ok {
			continue
		}
		k := walletKey(j.in.InvestorID, sh.currency)
		if _, seen := out[k]; seen {
			continue
		}
		if v, ok := s.walletCache.Load(k); ok {
			out[k] = v.(uuid.UUID)
			continue
		}
		out[k] = uuid.Nil
		missing = append(missing, k)
	}
	found, err := s.ledger.AccountIDs(ctx, missing)
	if err != nil {
		return nil, err
	}
	for _, k := range missing {
		if id, ok := found[k]; ok {
			s.walletCache.Store(k, id)
			out[k] = id
		} else {
			delete(out, k)
		}
	}
	return out, nil
}

// loaded is everything a batch's rules read, with the locks held.
type loaded struct {
	now       time.Time
	ctx       context.Context
	campaigns map[uuid.UUID]*campaignFacts
	existing  map[string]prior
	parties   *registry.Facts
	exposures map[expKey]*exposure
	wallets   map[string]uuid.UUID
	plan      *ledger.Plan
	answered  map[[2]string][]byte
}

type prior struct {
	id   uuid.UUID
	hash []byte
}

type expKey struct {
	party    uuid.UUID
	side     byte
	currency string
}

func walletKey(party uuid.UUID, cur money.Currency) string {
	return "wallet:" + party.String() + ":" + cur.Code()
}

// load takes the batch's locks and reads its facts, in the first round
// trip of its transaction.
func (s *Service) load(ctx context.Context, p *pg.Pipeline, jobs []*commitJob, shapes map[uuid.UUID]shape, wallets map[string]uuid.UUID,
	now time.Time) (*loaded, error) {
	ld := &loaded{now: now, ctx: ctx, campaigns: map[uuid.UUID]*campaignFacts{}, existing: map[string]prior{}, exposures: map[expKey]*exposure{},
		wallets: wallets}
	packs := map[string]compliance.RulePack{}
	campSet := map[uuid.UUID]bool{}
	partySet := map[uuid.UUID]bool{}
	var (
		keys                     []string
		pairCamp, pairInv        []uuid.UUID
		related                  [][2]uuid.UUID
		decisions                []registry.DecisionKey
		escrows                  []uuid.UUID
		iiIss, iiInv             []uuid.UUID
		iiCur                    []string
		receipts                 []idempotency.Request
		expParty                 []uuid.UUID
		expSide, expCur          []string
		expFrom                  []time.Time
		seenExp, seenII, seenEsc = map[expKey]bool{}, map[[3]string]bool{}, map[uuid.UUID]bool{}
	)
	addExp := func(party uuid.UUID, side byte, cur money.Currency, from time.Time) {
		k := expKey{party, side, cur.Code()}
		if seenExp[k] {
			return
		}
		seenExp[k] = true
		ld.exposures[k] = newExposure(party, side, cur, from)
		expParty, expSide, expCur, expFrom = append(expParty, party), append(expSide, string(side)), append(expCur, cur.Code()), append(expFrom, from)
	}
	for _, j := range jobs {
		keys = append(keys, j.in.IdempotencyKey)
		if j.in.Receipt != nil {
			receipts = append(receipts, j.in.Receipt.Request)
		}
		sh, ok := shapes[j.in.CampaignID]
		if !ok {
			continue
		}
		campSet[j.in.CampaignID] = true
		partySet[j.in.InvestorID], partySet[sh.issuer] = true, true
		pairCamp, pairInv = append(pairCamp, j.in.CampaignID), append(pairInv, j.in.InvestorID)
		related = append(related, [2]uuid.UUID{sh.issuer, j.in.InvestorID})
		if !seenEsc[sh.escrow] {
			seenEsc[sh.escrow] = true
			escrows = append(escrows, sh.escrow)
		}
		if sh.kind != "equity" {
			continue
		}
		pack, ok := packs[sh.pack]
		if !ok {
			var err error
			if pack, err = compliance.Pack(sh.pack, now); err != nil {
				return nil, err
			}
			packs[sh.pack] = pack
		}
		decisions = append(decisions, registry.DecisionKey{Party: j.in.InvestorID, Pack: pack.ID})
		from := now.AddDate(0, -pack.WindowMonths, 0)
		addExp(j.in.InvestorID, 'I', sh.currency, from)
		addExp(sh.issuer, 'S', sh.currency, from)
		if k := [3]string{sh.issuer.String(), sh.currency.Code(), j.in.InvestorID.String()}; !seenII[k] {
			seenII[k] = true
			iiIss, iiCur, iiInv = append(iiIss, sh.issuer), append(iiCur, sh.currency.Code()), append(iiInv, j.in.InvestorID)
		}
	}
	ids := sortedIDs(campSet)

	b := p.Batch()
	// 1. Campaigns, locked in id order, with their tiers and syndicates.
	b.Queue(`SELECT `+campaignColumns+` FROM campaigns WHERE id = ANY($1) ORDER BY id FOR UPDATE`, pg.UUIDs(ids)).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			c, err := scanCampaign(rows)
			if err != nil {
				return err
			}
			ld.campaigns[c.ID] = &campaignFacts{c: &c, tiers: map[string]*tierState{}, committed: c.Committed, investors: c.Investors,
				live: map[uuid.UUID]*uuid.UUID{}, added: money.Zero(c.Target.Currency())}
		}
		return rows.Err()
	})
	b.Queue(`SELECT campaign_id, tier, price, quantity_limit, sold FROM campaign_tiers WHERE campaign_id = ANY($1)`, pg.UUIDs(ids)).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			var cid uuid.UUID
			var name string
			t := &tierState{}
			if err := rows.Scan(&cid, &name, &t.price, &t.limit, &t.sold); err != nil {
				return err
			}
			if cf := ld.campaigns[cid]; cf != nil {
				cf.tiers[name] = t
			}
		}
		return rows.Err()
	})
	b.Queue(`SELECT campaign_id, id, seq, partners FROM syndicate_vehicles WHERE campaign_id = ANY($1) ORDER BY campaign_id, seq`, pg.UUIDs(ids)).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			var cid uuid.UUID
			v := &vehicleState{}
			if err := rows.Scan(&cid, &v.id, &v.seq, &v.partners); err != nil {
				return err
			}
			if cf := ld.campaigns[cid]; cf != nil {
				cf.vehicles = append(cf.vehicles, v)
			}
		}
		return rows.Err()
	})
	b.Queue(`SELECT k.id FROM campaigns k WHERE k.id = ANY($1) AND EXISTS (SELECT 1 FROM commitments m
		WHERE m.campaign_id = k.id AND m.state = 'live' AND m.investor_id = k.lead_investor_id)`, pg.UUIDs(ids)).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			var id uuid.UUID
			if err := rows.Scan(&id); err != nil {
				return err
			}
			if cf := ld.campaigns[id]; cf != nil {
				cf.leadLive = true
			}
		}
		return rows.Err()
	})
	// Whether each investor already has a live commitment in the campaign
	// (and in which vehicle): one index probe per pair.
	// (LIMIT 1: a follower who tops up again and again has hundreds of live
	// commitments, and any one of them names the vehicle.)
	b.Queue(`SELECT u.c, u.i, m.vehicle_id FROM unnest($1::uuid[], $2::uuid[]) AS u(c, i)
		CROSS JOIN LATERAL (SELECT vehicle_id FROM commitments m
			WHERE m.campaign_id = u.c AND m.state = 'live' AND m.investor_id = u.i LIMIT 1) m`, pg.UUIDs(pairCamp), pg.UUIDs(pairInv)).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			var cid, inv uuid.UUID
			var v *uuid.UUID
			if err := rows.Scan(&cid, &inv, &v); err != nil {
				return err
			}
			if cf := ld.campaigns[cid]; cf != nil {
				cf.live[inv] = v
			}
		}
		return rows.Err()
	})
	b.Queue(`SELECT idempotency_key, id, request_hash FROM commitments WHERE idempotency_key = ANY($1)`, keys).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			var k string
			var e prior
			if err := rows.Scan(&k, &e.id, &e.hash); err != nil {
				return err
			}
			ld.existing[k] = e
		}
		return rows.Err()
	})
	// 2. The parties, locked after the campaigns, with lists, relations and qualifications.
	ld.parties = s.reg.QueueFacts(b, registry.FactsQuery{Parties: sortedIDs(partySet), Related: related, Decisions: decisions, At: now})
	// 3. The running totals, locked after the parties (releases lock them
	//    before the ledger's accounts, as here).
	if len(expParty) > 0 {
		queueExposures(b, ld, expParty, expSide, expCur, expFrom)
		queueIssuerInvestors(b, ld, iiIss, iiCur, iiInv)
	}
	// 4. The ledger's accounts (escrows, wallets), locked last.
	accounts := escrows
	for _, id := range wallets {
		accounts = append(accounts, id)
	}
	ld.plan = s.ledger.LockAndRead(b, ledger.LockSpec{Accounts: accounts, Transfers: len(jobs)})
	answered := idempotency.QueueCheck(b, receipts)
	if err := p.Flush(ctx); err != nil {
		return nil, fmt.Errorf("lock and read: %w", err)
	}
	if err := s.reg.Open(ld.parties); err != nil {
		return nil, err
	}
	ld.plan.Ready()
	ld.answered = answered()
	for _, cf := range ld.campaigns {
		var err error
		if cf.pack, err = compliance.Pack(cf.c.Pack, now); err != nil {
			return nil, err
		}
		if cf.pack.CoolingOff.PlatformSetting && s.PlatformCoolingOff > 0 {
			cf.pack.CoolingOff.AfterCommit = s.PlatformCoolingOff // the platform's choice where the rules set none
		}
	}
	return ld, nil
}

// queueExposures locks the running totals in key order and reads each as
// of its window's start: the stored totals, with the commitments made
// between the stored expired_through and the window's start moved in or
// out of expired (a signed range sum over a few moments a year ago).
func queueExposures(b *pgx.Batch, ld *loaded, party []uuid.UUID, side, cur []string, from []time.Time) {
	b.Queue(`SELECT 1 FROM exposures e JOIN unnest($1::uuid[], $2::text[], $3::text[]) AS u(party, side, cur)
		ON e.party_id = u.party AND e.side = u.side::"char" AND e.currency = u.cur
		ORDER BY e.party_id, e.side, e.currency FOR UPDATE OF e`, pg.UUIDs(party), side, cur)
	b.Queue(`SELECT u.party, u.side, u.cur, coalesce(e.total, 0), coalesce(e.expired, 0), coalesce(e.investors, 0),
			CASE WHEN u.side = 'I' THEN (
				SELECT coalesce(sum(CASE WHEN m.created_at <= u.frm THEN m.amount ELSE -m.amount END), 0)
				FROM commitments m JOIN campaigns k ON k.id = m.campaign_id
				WHERE m.investor_id = u.party AND k.kind = 'equity' AND k.currency = u.cur AND m.state IN ('live', 'settled')
				  AND m.created_at > least(coalesce(e.expired_through, '-infinity'), u.frm)
				  AND m.created_at <= greatest(coalesce(e.expired_through, '-infinity'), u.frm))
			ELSE (
				SELECT coalesce(sum(CASE WHEN m.created_at <= u.frm THEN m.amount ELSE -m.amount END), 0)
				FROM campaigns k JOIN commitments m ON m.campaign_id = k.id
				WHERE k.issuer_id = u.party AND k.kind = 'equity' AND k.currency = u.cur AND m.state IN ('live', 'settled')
				  AND m.created_at > least(coalesce(e.expired_through, '-infinity'), u.frm)
				  AND m.created_at <= greatest(coalesce(e.expired_through, '-infinity'), u.frm))
			END
		FROM unnest($1::uuid[], $2::text[], $3::text[], $4::timestamptz[]) AS u(party, side, cur, frm)
		LEFT JOIN exposures e ON e.party_id = u.party AND e.side = u.side::"char" AND e.currency = u.cur`,
		pg.UUIDs(party), side, cur, from).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			var p uuid.UUID
			var sd, c string
			var total, expired, moved decimal.Decimal
			var investors int
			if err := rows.Scan(&p, &sd, &c, &total, &expired, &investors, &moved); err != nil {
				return err
			}
			if e := ld.exposures[expKey{p, sd[0], c}]; e != nil {
				e.total, e.expired, e.investors = total, expired.Add(moved), investors
				e.touched = !moved.IsZero()
			}
		}
		return rows.Err()
	})
}

// queueIssuerInvestors reads how many counted commitments each
// (issuer, currency, investor) has.
func queueIssuerInvestors(b *pgx.Batch, ld *loaded, iss []uuid.UUID, cur []string, inv []uuid.UUID) {
	b.Queue(`SELECT i.issuer_id, i.currency, i.investor_id, i.commitments FROM unnest($1::uuid[], $2::text[], $3::uuid[]) AS u(iss, cur, inv)
		JOIN issuer_investors i ON i.issuer_id = u.iss AND i.currency = u.cur AND i.investor_id = u.inv`, pg.UUIDs(iss), cur, pg.UUIDs(inv)).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			var is, in uuid.UUID
			var c string
			var n int
			if err := rows.Scan(&is, &c, &in, &n); err != nil {
				return err
			}
			if e := ld.exposures[expKey{is, 'S', c}]; e != nil {
				e.counted[in] = n
			}
		}
		return rows.Err()
	})
}

// factsFor gathers what the rules need of one investor's commitment.
func (ld *loaded) factsFor(cf *campaignFacts, investor uuid.UUID) commitFacts {
	c := cf.c
	cur := c.Target.Currency()
	f := commitFacts{investor: ld.parties.Parties[investor], issuer: ld.parties.Parties[c.IssuerID],
		related: ld.parties.Related[[2]uuid.UUID{c.IssuerID, investor}]}
	_, f.investorKnown = ld.parties.Parties[investor]
	f.wallet, f.hasWallet = ld.wallets[walletKey(investor, cur)]
	if c.Kind == "equity" {
		f.decision = ld.parties.Decisions[registry.DecisionKey{Party: investor, Pack: cf.pack.ID}]
		f.invested = ld.exposures[expKey{investor, 'I', cur.Code()}]
		f.raised = ld.exposures[expKey{c.IssuerID, 'S', cur.Code()}]
	}
	return f
}

// sortedExposures lists the totals in key order, for writes that lock.
func (ld *loaded) sortedExposures() []*exposure {
	out := make([]*exposure, 0, len(ld.exposures))
	for _, e := range ld.exposures {
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.party != b.party {
			return a.party.String() < b.party.String()
		}
		return a.side < b.side
	})
	return out
}
