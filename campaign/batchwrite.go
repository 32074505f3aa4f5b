package campaign

import (
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/crowdledger/crowdledger/audit"
	"github.com/crowdledger/crowdledger/internal/pg"
)

// queueWrites queues the batch's own writes behind the ledger's: the
// commitments, the tiers' and campaigns' running counts and milestones,
// the syndicate vehicles, the running totals, every audit event and the
// clients' answers. All set-based: one statement per table however many
// commitments and campaigns the batch holds.
func (ld *loaded) queueWrites(b *pgx.Batch, acc []accepted) error {
	pg.QueueCachedPlans(b) // writes only, from here on
	var (
		cIDs, cCamps, cInvs, cPend []uuid.UUID
		cVeh                       []*uuid.UUID
		cAmounts                   []decimal.Decimal
		cRoles, cTiers, cKeys      []string
		cShares                    []*int64
		cQty                       []*int32
		cCool                      []*time.Time
		cAck                       []bool
		cHashes                    [][]byte
		cDisc                      []string
		events                     []audit.Event
	)
	for _, a := range acc {
		cm, j := &a.job.out, a.job
		var qty *int32
		if cm.Quantity != nil {
			q := int32(*cm.Quantity)
			qty = &q
		}
		tier := ""
		if cm.Tier != nil {
			tier = *cm.Tier
		}
		cIDs, cCamps, cInvs, cPend = append(cIDs, cm.ID), append(cCamps, cm.CampaignID), append(cInvs, cm.InvestorID), append(cPend, cm.PendingTransfer)
		cVeh, cAmounts, cRoles, cTiers = append(cVeh, cm.VehicleID), append(cAmounts, cm.Amount.Decimal()), append(cRoles, cm.Role), append(cTiers, tier)
		cKeys, cShares, cQty, cCool = append(cKeys, j.in.IdempotencyKey), append(cShares, cm.Shares), append(cQty, qty), append(cCool, cm.CoolingOffUntil)
		cAck, cHashes = append(cAck, j.in.Acknowledged), append(cHashes, j.hash)
		disclosure := ""
		if cm.RiskDisclosure != nil {
			disclosure = *cm.RiskDisclosure
		}
		cDisc = append(cDisc, disclosure)
		ev, err := commitEvent(j.ctx, *cm, a.entry)
		if err != nil {
			return err
		}
		events = append(events, ev)
	}
	// Vehicles first: new commitments refer to them.
	var vID, vCamp []uuid.UUID
	var vSeq, vPartners []int32
	for _, cf := range ld.campaigns {
		for _, v := range cf.vehicles {
			if v.touched {
				vID, vCamp, vSeq, vPartners = append(vID, v.id), append(vCamp, cf.c.ID), append(vSeq, int32(v.seq)), append(vPartners, int32(v.partners))
			}
		}
	}
	if len(vID) > 0 {
		b.Queue(`INSERT INTO syndicate_vehicles (id, campaign_id, seq, partners)
			SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::int4[], $4::int4[])
			ON CONFLICT (id) DO UPDATE SET partners = EXCLUDED.partners`, pg.UUIDs(vID), pg.UUIDs(vCamp), vSeq, vPartners)
	}
	if len(cIDs) > 0 {
		b.Queue(`INSERT INTO commitments (id, campaign_id, investor_id, role, amount, shares, tier, quantity, vehicle_id, pending_transfer,
				cooling_off_until, acknowledged, idempotency_key, request_hash, created_at, state_at, risk_disclosure)
			SELECT u.id, u.camp, u.inv, u.role, u.amount, u.shares, NULLIF(u.tier, ''), u.qty, u.veh, u.pend, u.cool, u.ack, u.key, u.hash, $15, $15,
				NULLIF(u.disc, '')
			FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::text[]::numeric[], $6::int8[], $7::text[], $8::int4[], $9::uuid[],
				$10::uuid[], $11::timestamptz[], $12::bool[], $13::text[], $14::bytea[], $16::text[])
				AS u(id, camp, inv, role, amount, shares, tier, qty, veh, pend, cool, ack, key, hash, disc)`,
			pg.UUIDs(cIDs), pg.UUIDs(cCamps), pg.UUIDs(cInvs), cRoles, pg.NumericText(cAmounts), cShares, cTiers, cQty, pg.NullableUUIDs(cVeh),
			pg.UUIDs(cPend), cCool, cAck, cKeys, cHashes, ld.now, cDisc)
	}
	var (
		tCamp   []uuid.UUID
		tTier   []string
		tQty    []int32
		kID     []uuid.UUID
		kAmt    []decimal.Decimal
		kInv    []int32
		msCamp  []uuid.UUID
		msNames []string
	)
	for _, cf := range ld.campaigns {
		if !cf.anyChange {
			continue
		}
		for name, t := range cf.tiers {
			if t.added != 0 {
				tCamp, tTier, tQty = append(tCamp, cf.c.ID), append(tTier, name), append(tQty, int32(t.added))
			}
		}
		kID, kAmt, kInv = append(kID, cf.c.ID), append(kAmt, cf.added.Decimal()), append(kInv, int32(cf.newCount))
		for _, m := range cf.reached {
			msCamp, msNames = append(msCamp, cf.c.ID), append(msNames, m)
			ev, err := audit.New(ld.ctx, "campaign.milestone", []string{cf.c.ID.String()}, map[string]any{"milestone": m, "committed": cf.committed.String()})
			if err != nil {
				return err
			}
			events = append(events, ev)
		}
	}
	if len(tCamp) > 0 {
		b.Queue(`UPDATE campaign_tiers t SET sold = t.sold + u.qty FROM unnest($1::uuid[], $2::text[], $3::int4[]) AS u(camp, tier, qty)
			WHERE t.campaign_id = u.camp AND t.tier = u.tier`, pg.UUIDs(tCamp), tTier, tQty)
	}
	if len(kID) > 0 {
		b.Queue(`UPDATE campaigns c SET committed = c.committed + u.amount, investors = c.investors + u.inv
			FROM unnest($1::uuid[], $2::text[]::numeric[], $3::int4[]) AS u(id, amount, inv) WHERE c.id = u.id`, pg.UUIDs(kID), pg.NumericText(kAmt), kInv)
	}
	if len(msCamp) > 0 {
		b.Queue(`UPDATE campaigns c SET milestones = c.milestones || m.names FROM (
			SELECT u.id, array_agg(u.name) AS names FROM unnest($1::uuid[], $2::text[]) AS u(id, name) GROUP BY u.id) m WHERE c.id = m.id`,
			pg.UUIDs(msCamp), msNames)
	}
	ld.queueExposureWrites(b)
	audit.QueueAppend(b, events)
	if err := queueReceipts(b, acc); err != nil {
		return err
	}
	pg.QueueCustomPlans(b)
	return nil
}

// queueExposureWrites stores the running totals the batch read (their
// expired part moved to the window's start) and added to, and the
// commitments each issuer's investors added. The rows are locked since the
// batch read them, so it writes what it computed, not increments.
func (ld *loaded) queueExposureWrites(b *pgx.Batch) {
	var (
		party          []uuid.UUID
		side, cur      []string
		total, expired []decimal.Decimal
		through        []time.Time
		investors      []int32
		iiIss, iiInv   []uuid.UUID
		iiCur          []string
		iiN            []int32
	)
	for _, e := range ld.sortedExposures() {
		if !e.touched {
			continue
		}
		party, side, cur = append(party, e.party), append(side, string(e.side)), append(cur, e.currency.Code())
		total, expired, through = append(total, e.total.Add(e.added)), append(expired, e.expired), append(through, e.from)
		investors = append(investors, int32(e.investors))
		for inv, n := range e.addedBy {
			iiIss, iiCur, iiInv, iiN = append(iiIss, e.party), append(iiCur, e.currency.Code()), append(iiInv, inv), append(iiN, int32(n))
		}
	}
	if len(party) > 0 {
		b.Queue(`INSERT INTO exposures (party_id, side, currency, total, expired, expired_through, investors)
			SELECT u.party, u.side::"char", u.cur, u.total, u.expired, u.through, u.inv
			FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[]::numeric[], $5::text[]::numeric[], $6::timestamptz[], $7::int4[])
				AS u(party, side, cur, total, expired, through, inv)
			ON CONFLICT (party_id, side, currency) DO UPDATE SET total = EXCLUDED.total, expired = EXCLUDED.expired,
				expired_through = EXCLUDED.expired_through, investors = EXCLUDED.investors`,
			pg.UUIDs(party), side, cur, pg.NumericText(total), pg.NumericText(expired), through, investors)
	}
	if len(iiIss) > 0 {
		b.Queue(`INSERT INTO issuer_investors (issuer_id, currency, investor_id, commitments)
			SELECT * FROM unnest($1::uuid[], $2::text[], $3::uuid[], $4::int4[])
			ON CONFLICT (issuer_id, currency, investor_id) DO UPDATE SET commitments = issuer_investors.commitments + EXCLUDED.commitments`,
			pg.UUIDs(iiIss), iiCur, pg.UUIDs(iiInv), iiN)
	}
}
