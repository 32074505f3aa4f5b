package campaign

import (
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"

	"github.com/crowdledger/crowdledger/compliance"
	"github.com/crowdledger/crowdledger/internal/money"
	"github.com/crowdledger/crowdledger/registry"
)

// The commitment rules, written once. decide is a pure function of the
// facts of one commitment: the campaign as locked (with what earlier
// commitments of the same batch have taken), the investor and issuer, and
// their running totals. It touches no database; the batch gathers the
// facts for all its commitments set-based, and accept advances them after
// the ledger has accepted the money, so that the next commitment sees this
// one. One commitment alone is a batch of one: there is no other path.

// campaignFacts is one locked campaign as the rules see it during a batch.
type campaignFacts struct {
	c         *Campaign
	pack      compliance.RulePack
	tiers     map[string]*tierState
	committed money.Amount
	investors int
	live      map[uuid.UUID]*uuid.UUID // investors with a live commitment, and the vehicle they sit in (nil: none)
	leadLive  bool
	vehicles  []*vehicleState // by seq
	// What this batch adds, for the writes.
	added     money.Amount
	newCount  int
	reached   []string // milestones reached in this batch
	anyChange bool
}

type tierState struct {
	price decimal.Decimal
	limit *int
	sold  int
	added int
}

type vehicleState struct {
	id       uuid.UUID
	seq      int
	partners int
	fresh    bool // opened in this batch
	touched  bool
}

// exposure is a party's running window total, as exposures keeps it: the
// investor's equity commitments or the issuer's raise, in one currency.
type exposure struct {
	party    uuid.UUID
	side     byte // 'I' investor, 'S' issuer
	currency money.Currency
	from     time.Time // the window's start at the batch's instant

	total, expired decimal.Decimal   // as stored, expired moved up to from
	investors      int               // side 'S': distinct investors counted
	counted        map[uuid.UUID]int // side 'S': live or settled commitments per investor of the batch
	added          decimal.Decimal
	addedBy        map[uuid.UUID]int // side 'S': commitments this batch adds per investor
	touched        bool
}

func (e *exposure) inWindow() money.Amount {
	a, _ := money.FromDecimal(e.currency, e.total.Add(e.added).Sub(e.expired))
	return a
}

// commitFacts is what the rules know of one commitment besides its
// campaign.
type commitFacts struct {
	investor, issuer registry.PartyFacts
	investorKnown    bool
	related          bool
	decision         *compliance.Decision
	invested, raised *exposure // nil for a reward pledge
	wallet           uuid.UUID
	hasWallet        bool
}

// decide applies every commitment rule to in at now and returns the
// commitment it would make, or why not. It changes nothing: accept does,
// once the money has moved.
func decide(now time.Time, cf *campaignFacts, f commitFacts, in CommitRequest) (Commitment, error) {
	c := cf.c
	if c.State != Live || now.Before(c.StartsAt) || !now.Before(c.Deadline) {
		return Commitment{}, fmt.Errorf("%w (state %s)", ErrNotLive, c.State)
	}
	if !f.investorKnown {
		return Commitment{}, invalid("investor_id", registry.ErrPartyNotFound)
	}
	cur := c.Target.Currency()
	cm := Commitment{CampaignID: c.ID, InvestorID: in.InvestorID, State: "live", CreatedAt: now}
	var amount decimal.Decimal
	switch c.Kind {
	case "equity":
		if in.Shares <= 0 || in.Tier != "" || in.Quantity != 0 {
			return Commitment{}, invalid("shares", errors.New("an equity commitment is a positive whole number of shares"))
		}
		amount = c.PricePerShare.Decimal().Mul(decimal.NewFromInt(in.Shares))
		if amount.Cmp(c.MinTicket.Decimal()) < 0 {
			return Commitment{}, invalid("shares", fmt.Errorf("below the minimum ticket of %s", c.MinTicket))
		}
		shares := in.Shares
		cm.Shares = &shares
	default:
		if in.Tier == "" || in.Quantity <= 0 || in.Shares != 0 {
			return Commitment{}, invalid("tier", errors.New("a reward commitment names a tier and a positive quantity"))
		}
		t := cf.tiers[in.Tier]
		if t == nil {
			return Commitment{}, invalid("tier", errors.New("no such tier"))
		}
		if t.limit != nil && t.sold+in.Quantity > *t.limit {
			return Commitment{}, &CapError{Kind: ErrSoldOut, Remaining: fmt.Sprint(*t.limit - t.sold)}
		}
		amount = t.price.Mul(decimal.NewFromInt(int64(in.Quantity)))
		tier, qty := in.Tier, in.Quantity
		cm.Tier, cm.Quantity = &tier, &qty
	}
	amt, err := money.FromDecimal(cur, amount)
	if err != nil {
		return Commitment{}, invalid(map[bool]string{true: "shares", false: "quantity"}[c.Kind == "equity"], err)
	}
	cm.Amount = amt
	left, _ := c.HardCap.Sub(cf.committed)
	if amt.Cmp(left) > 0 {
		return Commitment{}, &CapError{Kind: ErrHardCap, Remaining: left.String()}
	}
	// 领投/跟投: the lead commits first, at least its minimum share of the
	// target; followers then join syndicate vehicles of at most 50.
	prevVehicle, returning := cf.live[in.InvestorID]
	cm.Role = "direct"
	if c.Kind != "equity" {
		cm.Role = "backer"
	} else if c.LeadInvestorID != nil {
		if in.InvestorID == *c.LeadInvestorID {
			cm.Role = "lead"
			need := c.Target.Decimal().Mul(c.LeadMinShare)
			if amount.Cmp(need) < 0 {
				return Commitment{}, invalid("shares", fmt.Errorf("the lead must commit at least %s of the target (%s)", c.LeadMinShare, need.StringFixed(cur.Scale())))
			}
		} else {
			if !cf.leadLive {
				return Commitment{}, ErrLeadFirst
			}
			cm.Role = "follower"
			if returning && prevVehicle != nil {
				cm.VehicleID = prevVehicle // a top-up stays in the same vehicle, as the same partner
			} else {
				v := cf.vehicleWithRoom()
				cm.VehicleID = &v
			}
		}
	}
	facts := f.compliance(now, cf.pack, amt, in.Acknowledged, c.RiskLevel, in.InvestorID, c.IssuerID)
	facts.Reward, facts.AsLead, facts.RiskDisclosure = c.Kind != "equity", cm.Role == "lead", in.RiskDisclosure
	if d := cf.pack.RiskDisclosure; d != nil && c.Kind == "equity" {
		h := d.SHA256()
		cm.RiskDisclosure = &h // what was checked is what is kept
	}
	if err := compliance.CheckCommitment(facts).Err(); err != nil {
		return Commitment{}, err
	}
	if !f.hasWallet {
		return Commitment{}, ErrNoWallet
	}
	if !returning && c.MaxInvestors > 0 && cf.investors+1 > c.MaxInvestors {
		return Commitment{}, &CapError{Kind: compliance.ErrRefused, Remaining: "0 investor places"}
	}
	cm.CoolingOffUntil = cf.pack.CoolingOff.Until(now, c.Deadline)
	return cm, nil
}

// compliance is what compliance.CheckCommitment needs of a commitment of
// amount by investor to issuer at now: the one place the facts gathered
// for a batch (or for a dry run) become the rules' input. The caller says
// whether it is a reward pledge or the lead's commitment.
func (f commitFacts) compliance(now time.Time, pack compliance.RulePack, amount money.Amount, acknowledged bool, risk int,
	investor, issuer uuid.UUID) compliance.Facts {
	cur := amount.Currency()
	facts := compliance.Facts{At: now, Pack: pack, Amount: amount, Acknowledged: acknowledged, CampaignRisk: risk,
		InvestorVerified: f.investor.Verified, InvestorBlacklisted: f.investor.Blacklisted,
		IssuerVerified: f.issuer.Verified, IssuerBlacklisted: f.issuer.Blacklisted,
		InvestorIsIssuer: investor == issuer, InvestorRelated: f.related, Qualification: f.decision,
		InvestedInWindow: money.Zero(cur), IssuerRaisedInWindow: money.Zero(cur)}
	if f.invested != nil {
		facts.InvestedInWindow = f.invested.inWindow()
	}
	if f.raised != nil {
		facts.IssuerRaisedInWindow = f.raised.inWindow()
		facts.IssuerInvestors = f.raised.investors
		facts.InvestorAlreadyCounted = f.raised.counted[investor] > 0
		if facts.InvestorAlreadyCounted {
			facts.IssuerInvestors-- // counted without this investor, as the rule wants
		}
	}
	return facts
}

// newExposure is a running total about to be read as of from.
func newExposure(party uuid.UUID, side byte, cur money.Currency, from time.Time) *exposure {
	return &exposure{party: party, side: side, currency: cur, from: from, counted: map[uuid.UUID]int{}, addedBy: map[uuid.UUID]int{}}
}

// vehicleWithRoom is the first vehicle with room for one more partner, or
// the id the next one will be opened under.
func (cf *campaignFacts) vehicleWithRoom() uuid.UUID {
	for _, v := range cf.vehicles {
		if v.partners < maxPartners {
			return v.id
		}
	}
	return uuid.Nil
}

// maxPartners: 合伙企业法 art. 61, a limited partnership has at most 50
// partners (the database checks it too).
const maxPartners = 50

// accept advances the facts by a commitment the ledger took, so that the
// rest of the batch sees it, and fixes the vehicle a new follower opens.
func (cf *campaignFacts) accept(cm *Commitment, f commitFacts) {
	cf.anyChange = true
	if cm.Tier != nil {
		t := cf.tiers[*cm.Tier]
		t.sold += *cm.Quantity
		t.added += *cm.Quantity
	}
	before := cf.committed
	cf.committed, _ = cf.committed.Add(cm.Amount)
	cf.added, _ = cf.added.Add(cm.Amount)
	for _, m := range []struct {
		name string
		pct  int64
	}{{"50%", 50}, {"100%", 100}} {
		th := cf.c.Target.Decimal().Mul(decimal.NewFromInt(m.pct)).Div(decimal.NewFromInt(100))
		if before.Decimal().Cmp(th) < 0 && cf.committed.Decimal().Cmp(th) >= 0 && !cf.hasMilestone(m.name) {
			cf.reached = append(cf.reached, m.name)
		}
	}
	prev, returning := cf.live[cm.InvestorID]
	if !returning {
		cf.investors++
		cf.newCount++
	}
	if cm.VehicleID != nil && (!returning || prev == nil) { // a new partner
		v := cf.vehicle(*cm.VehicleID)
		if v == nil { // the next vehicle, opened now
			v = &vehicleState{id: uuid.New(), seq: 1, fresh: true}
			if n := len(cf.vehicles); n > 0 {
				v.seq = cf.vehicles[n-1].seq + 1
			}
			cf.vehicles = append(cf.vehicles, v)
			id := v.id
			cm.VehicleID = &id
		}
		v.partners++
		v.touched = true
	}
	if !returning || prev == nil {
		cf.live[cm.InvestorID] = cm.VehicleID
	}
	if cm.Role == "lead" {
		cf.leadLive = true
	}
	for _, e := range []*exposure{f.invested, f.raised} {
		if e == nil {
			continue
		}
		e.added = e.added.Add(cm.Amount.Decimal())
		e.touched = true
	}
	if e := f.raised; e != nil {
		if e.counted[cm.InvestorID] == 0 {
			e.investors++
		}
		e.counted[cm.InvestorID]++
		e.addedBy[cm.InvestorID]++
	}
}

func (cf *campaignFacts) vehicle(id uuid.UUID) *vehicleState {
	for _, v := range cf.vehicles {
		if v.id == id {
			return v
		}
	}
	return nil
}

func (cf *campaignFacts) hasMilestone(name string) bool {
	for _, x := range cf.c.Milestones {
		if x == name {
			return true
		}
	}
	for _, x := range cf.reached {
		if x == name {
			return true
		}
	}
	return false
}
