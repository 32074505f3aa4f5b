package campaign

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/shopspring/decimal"

	"github.com/crowdledger/crowdledger/audit"
	"github.com/crowdledger/crowdledger/compliance"
	"github.com/crowdledger/crowdledger/idempotency"
	"github.com/crowdledger/crowdledger/internal/batch"
	"github.com/crowdledger/crowdledger/internal/fault"
	"github.com/crowdledger/crowdledger/internal/money"
	"github.com/crowdledger/crowdledger/internal/pg"
	"github.com/crowdledger/crowdledger/ledger"
	"github.com/crowdledger/crowdledger/registry"
)

// Errors callers branch on.
var (
	ErrNotFound            = errors.New("campaign not found")
	ErrInvalid             = errors.New("invalid campaign request")
	ErrIllegalTransition   = errors.New("illegal state transition")
	ErrNotLive             = errors.New("campaign is not open for commitments")
	ErrHardCap             = errors.New("the hard cap is reached")
	ErrSoldOut             = errors.New("the tier is sold out")
	ErrLeadFirst           = errors.New("the lead investor must commit first")
	ErrSameApprover        = errors.New("the approver must not be the creator (maker-checker)")
	ErrIssuerBlacklisted   = errors.New("the issuer is on the blacklist")
	ErrNoWallet            = errors.New("the investor has no wallet in this currency")
	ErrCommitmentNotFound  = errors.New("commitment not found")
	ErrCoolingOffOver      = errors.New("the cooling-off window is over: the commitment is locked")
	ErrIdempotencyConflict = idempotency.ErrConflict // one sentinel for every store of keys
	ErrAlreadyCommitted    = errors.New("the investor already has a live commitment in this campaign")
)

// FieldError names the field at fault.
type FieldError = fault.FieldError

// invalid is an invalid field: it unwraps to ErrInvalid and its cause.
func invalid(field string, err error) error {
	return &FieldError{Field: field, Err: err, Kind: ErrInvalid}
}

// CapError says what is left when a commitment does not fit.
type CapError struct {
	Kind      error
	Remaining string
}

func (e *CapError) Error() string { return fmt.Sprintf("%v: %s left", e.Kind, e.Remaining) }
func (e *CapError) Unwrap() error { return e.Kind }

// States.
const (
	Draft     = "draft"
	Submitted = "submitted"
	Approved  = "approved"
	Rejected  = "rejected"
	Live      = "live"
	Succeeded = "succeeded"
	Failed    = "failed"
	Settled   = "settled"
	Refunded  = "refunded"
	Fulfilled = "fulfilled"
)

// transitions are the legal state changes.
var transitions = map[string][]string{
	Draft: {Submitted}, Submitted: {Approved, Rejected}, Rejected: {Submitted}, Approved: {Live},
	Live: {Succeeded, Failed}, Succeeded: {Settled}, Failed: {Refunded}, Settled: {Fulfilled},
}

func legal(from, to string) bool {
	for _, s := range transitions[from] {
		if s == to {
			return true
		}
	}
	return false
}

// Service runs campaigns.
type Service struct {
	db     pg.Pool
	ledger *ledger.Ledger
	reg    *registry.Registry
	// Release says what of a reward campaign's proceeds may be paid out when.
	Release ReleaseSettings
	// PlatformCoolingOff, when positive, is the cancellation window of
	// packs whose rules set none (the CN packs: 24 hours by default).
	PlatformCoolingOff time.Duration
	// OnBatch, if set before StartBatching, is called with each commitment
	// batch's size and how long its oldest commitment waited (for metrics).
	OnBatch func(size int, waited time.Duration)
	batch   *batch.Batcher[*commitJob]
	// shapeCache holds what never changes about a campaign (shape), by id.
	shapeCache sync.Map
	// walletCache holds parties' wallet accounts by walletKey.
	walletCache sync.Map
	// Now is the clock; tests move it.
	Now func() time.Time
}

// New returns a campaign service.
func New(db *pgxpool.Pool, l *ledger.Ledger, reg *registry.Registry) *Service {
	return &Service{db: pg.Units(db), ledger: l, reg: reg, Now: time.Now, Release: DefaultReleaseSettings}
}

// Tier is a reward level: a price and an optional limited quantity.
type Tier struct {
	ID            string
	Title         string
	Price         money.Amount
	QuantityLimit *int
	Sold          int
	DeliveryBy    *time.Time
}

// NewCampaign is a request to open a campaign (a draft).
type NewCampaign struct {
	IssuerID          uuid.UUID
	Kind              string // reward, equity
	Funding           string // all_or_nothing (default), keep_what_you_raise (reward only)
	Pack              string
	Title             string
	RiskLevel         int
	Target            money.Amount
	HardCap           money.Amount
	MinTicket         money.Amount // equity
	PricePerShare     money.Amount // equity
	FeeRate           decimal.Decimal
	LeadInvestorID    uuid.UUID // equity, optional
	LeadMinShare      decimal.Decimal
	CarryRate         decimal.Decimal
	PlatformCarryRate decimal.Decimal
	StartsAt          time.Time
	Deadline          time.Time
	Tiers             []Tier
}

// Campaign is a stored campaign.
type Campaign struct {
	ID                uuid.UUID
	IssuerID          uuid.UUID
	Kind, Funding     string
	Pack              string
	Title             string
	RiskLevel         int
	Target, HardCap   money.Amount
	MinTicket         money.Amount
	PricePerShare     *money.Amount
	FeeRate           decimal.Decimal
	LeadInvestorID    *uuid.UUID
	LeadMinShare      decimal.Decimal
	CarryRate         decimal.Decimal
	PlatformCarryRate decimal.Decimal
	MaxInvestors      int
	StartsAt          time.Time
	Deadline          time.Time
	State             string
	StateAt           time.Time
	CreatedBy         string
	ApprovedBy        *string
	RejectionReason   *string
	EscrowAccountID   uuid.UUID
	PayableAccountID  uuid.UUID
	Committed         money.Amount
	Investors         int
	Milestones        []string
	Tiers             []Tier
	CreatedAt         time.Time
}

// actorName is the person acting (audit.Actor.Person): campaigns record
// their maker and checker as people, so maker-checker compares people.
func actorName(ctx context.Context) string {
	a, _ := audit.From(ctx)
	return a.Person()
}

func (in *NewCampaign) validate(now time.Time) (compliance.RulePack, error) {
	fail := func(f, msg string) (compliance.RulePack, error) {
		return compliance.RulePack{}, invalid(f, errors.New(msg))
	}
	if in.Kind != "reward" && in.Kind != "equity" {
		return fail("kind", "must be reward or equity")
	}
	if in.Funding == "" {
		in.Funding = "all_or_nothing"
	}
	if in.Funding != "all_or_nothing" && in.Funding != "keep_what_you_raise" {
		return fail("funding", "must be all_or_nothing or keep_what_you_raise")
	}
	if in.Funding == "keep_what_you_raise" && in.Kind != "reward" {
		return fail("funding", "keep-what-you-raise is for reward campaigns only")
	}
	pack, err := compliance.Pack(in.Pack, in.StartsAt)
	if err != nil {
		return compliance.RulePack{}, invalid("pack", err)
	}
	if in.Target.Currency() != pack.Currency {
		return fail("currency", "the campaign's currency must be its rule pack's ("+pack.Currency.Code()+")")
	}
	if l := utf8.RuneCountInString(in.Title); l == 0 || l > 200 {
		return fail("title", "must be 1 to 200 characters")
	}
	if in.Kind == "equity" {
		in.RiskLevel = 5 // equity crowdfunding is R5
	}
	if in.RiskLevel < 1 || in.RiskLevel > 5 {
		return fail("risk_level", "must be 1 to 5 (R1-R5)")
	}
	if in.Target.Sign() <= 0 {
		return fail("target", "must be positive")
	}
	if in.HardCap.IsZero() && in.HardCap.Currency().IsZero() {
		in.HardCap = in.Target
	}
	if in.HardCap.Currency() != in.Target.Currency() || in.HardCap.Cmp(in.Target) < 0 {
		return fail("hard_cap", "must be in the campaign's currency and at least the target")
	}
	if in.FeeRate.Sign() < 0 || in.FeeRate.Cmp(decimal.NewFromInt(1)) >= 0 {
		return fail("fee_rate", "must be from 0 to below 1")
	}
	if !in.Deadline.After(in.StartsAt) {
		return fail("deadline", "must be after starts_at")
	}
	if in.Deadline.Before(now) {
		return fail("deadline", "is in the past")
	}
	if pack.MinOffering > 0 && in.Deadline.Sub(in.StartsAt) < pack.MinOffering {
		return fail("deadline", fmt.Sprintf("the offering must stay open at least %d days (%s)", int(pack.MinOffering.Hours()/24), pack.MinOfferingCite))
	}
	if in.LeadMinShare.IsZero() {
		in.LeadMinShare = decimal.RequireFromString("0.10")
	}
	if in.CarryRate.IsZero() && in.Kind == "equity" {
		in.CarryRate = decimal.RequireFromString("0.20")
	}
	if in.CarryRate.Sign() < 0 || in.CarryRate.Cmp(decimal.RequireFromString("0.20")) > 0 {
		return fail("carry_rate", "must be from 0 to 0.20")
	}
	if in.PlatformCarryRate.Sign() < 0 || in.PlatformCarryRate.Add(in.CarryRate).Cmp(decimal.NewFromInt(1)) >= 0 {
		return fail("platform_carry_rate", "must be at least 0, and below 1 with the carry")
	}
	switch in.Kind {
	case "equity":
		if in.PricePerShare.Currency() != in.Target.Currency() || in.PricePerShare.Sign() <= 0 {
			return fail("price_per_share", "must be a positive amount in the campaign's currency")
		}
		if len(in.Tiers) > 0 {
			return fail("tiers", "equity campaigns have no tiers")
		}
		if in.MinTicket.Currency().IsZero() {
			in.MinTicket = money.Zero(in.Target.Currency())
		}
	case "reward":
		if len(in.Tiers) == 0 || len(in.Tiers) > 50 {
			return fail("tiers", "a reward campaign needs 1 to 50 tiers")
		}
		seen := map[string]bool{}
		for i, t := range in.Tiers {
			if t.ID == "" || seen[t.ID] || t.Price.Currency() != in.Target.Currency() || t.Price.Sign() <= 0 || (t.QuantityLimit != nil && *t.QuantityLimit < 1) {
				return fail(fmt.Sprintf("tiers[%d]", i), "needs a unique id, a positive price in the campaign's currency and a positive quantity if limited")
			}
			seen[t.ID] = true
		}
		in.MinTicket = money.Zero(in.Target.Currency())
		if in.LeadInvestorID != uuid.Nil {
			return fail("lead_investor_id", "only equity campaigns have a lead investor")
		}
	}
	return pack, nil
}

// platformAccount returns (creating once) a platform-wide account per code
// and currency; the idempotency key makes concurrent creators agree.
func (s *Service) platformAccount(ctx context.Context, code ledger.AccountCode, cur money.Currency) (uuid.UUID, error) {
	flags := ledger.Flags{}
	a, _, err := s.ledger.CreateAccount(ctx, ledger.NewAccount{Currency: cur, Code: code, Owner: "platform", Flags: flags,
		IdempotencyKey: "platform:" + string(code) + ":" + cur.Code()})
	if err != nil {
		return uuid.Nil, fmt.Errorf("platform %s account: %w", code, err)
	}
	return a.ID, nil
}

// Wallet returns (creating once) a party's wallet in a currency.
func (s *Service) Wallet(ctx context.Context, party uuid.UUID, cur money.Currency) (uuid.UUID, error) {
	a, _, err := s.ledger.CreateAccount(ctx, ledger.NewAccount{Currency: cur, Code: ledger.CodeInvestorWallet, Owner: registry.Owner(party),
		Flags: ledger.Flags{DebitsMustNotExceedCredits: true}, IdempotencyKey: walletKey(party, cur)})
	if err != nil {
		return uuid.Nil, fmt.Errorf("wallet: %w", err)
	}
	return a.ID, nil
}

// Create opens a draft campaign with its escrow and issuer payable accounts.
func (s *Service) Create(ctx context.Context, in NewCampaign) (Campaign, error) {
	pack, err := in.validate(s.Now())
	if err != nil {
		return Campaign{}, err
	}
	issuer, err := s.reg.Party(ctx, in.IssuerID)
	if err != nil {
		return Campaign{}, invalid("issuer_id", err)
	}
	if issuer.Role != "issuer" {
		return Campaign{}, invalid("issuer_id", registry.ErrWrongRole)
	}
	id := uuid.New()
	cur := in.Target.Currency()
	owner := registry.Owner(in.IssuerID)
	escrow, _, err := s.ledger.CreateAccount(ctx, ledger.NewAccount{Currency: cur, Code: ledger.CodeCampaignEscrow, Owner: owner,
		Flags: ledger.Flags{DebitsMustNotExceedCredits: true}, Metadata: json.RawMessage(`{"campaign_id":"` + id.String() + `"}`),
		IdempotencyKey: "campaign:" + id.String() + ":escrow"})
	if err != nil {
		return Campaign{}, err
	}
	payable, _, err := s.ledger.CreateAccount(ctx, ledger.NewAccount{Currency: cur, Code: ledger.CodeIssuerPayable, Owner: owner,
		Flags: ledger.Flags{DebitsMustNotExceedCredits: true}, Metadata: json.RawMessage(`{"campaign_id":"` + id.String() + `"}`),
		IdempotencyKey: "campaign:" + id.String() + ":payable"})
	if err != nil {
		return Campaign{}, err
	}
	var lead *uuid.UUID
	if in.LeadInvestorID != uuid.Nil {
		lead = &in.LeadInvestorID
	}
	var price *decimal.Decimal
	maxInvestors := 0 // a reward pledge is a purchase: the 200-investor cap is for securities
	if in.Kind == "equity" {
		p := in.PricePerShare.Decimal()
		price = &p
		maxInvestors = pack.MaxInvestorsPerIssuer
	}
	err = pg.InTx(ctx, s.db, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO campaigns (id, issuer_id, kind, funding, pack, currency, title, risk_level, target, hard_cap,
				min_ticket, price_per_share, fee_rate, lead_investor_id, lead_min_share, carry_rate, platform_carry_rate, max_investors,
				starts_at, deadline, created_by, escrow_account_id, payable_account_id)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23)`,
			id, in.IssuerID, in.Kind, in.Funding, pack.ID, cur.Code(), in.Title, in.RiskLevel, in.Target.Decimal(), in.HardCap.Decimal(),
			in.MinTicket.Decimal(), price, in.FeeRate, lead, in.LeadMinShare, in.CarryRate, in.PlatformCarryRate, maxInvestors,
			in.StartsAt, in.Deadline, actorName(ctx), escrow.ID, payable.ID); err != nil {
			return err
		}
		for _, t := range in.Tiers {
			if _, err := tx.Exec(ctx, `INSERT INTO campaign_tiers (campaign_id, tier, title, price, quantity_limit, delivery_by) VALUES ($1, $2, $3, $4, $5, $6)`,
				id, t.ID, t.Title, t.Price.Decimal(), t.QuantityLimit, t.DeliveryBy); err != nil {
				return err
			}
		}
		return s.record(ctx, tx, id, "campaign.create", "", Draft, map[string]any{"kind": in.Kind, "target": in.Target.String(), "currency": cur.Code()})
	})
	if err != nil {
		return Campaign{}, fmt.Errorf("create campaign: %w", err)
	}
	return s.Get(ctx, id)
}

// record appends the audit event of a campaign command.
func (s *Service) record(ctx context.Context, tx pgx.Tx, id uuid.UUID, action, from, to string, facts map[string]any) error {
	return s.recordObjects(ctx, tx, []string{id.String()}, action, from, to, facts)
}

// recordObjects is record for a command whose event names more than the
// campaign (a commitment's release names its commitment, entry and transfer).
func (s *Service) recordObjects(ctx context.Context, tx pgx.Tx, objects []string, action, from, to string, facts map[string]any) error {
	if facts == nil {
		facts = map[string]any{}
	}
	if from != "" || to != "" {
		facts["from_state"], facts["to_state"] = from, to
	}
	ev, err := audit.New(ctx, action, objects, facts)
	if err != nil {
		return err
	}
	return audit.Append(ctx, tx, ev)
}

const campaignColumns = `id, issuer_id, kind, funding, pack, currency, title, risk_level, target, hard_cap, min_ticket, price_per_share,
	fee_rate, lead_investor_id, lead_min_share, carry_rate, platform_carry_rate, max_investors, starts_at, deadline, state, state_at,
	created_by, approved_by, rejection_reason, escrow_account_id, payable_account_id, committed, investors, milestones, created_at`

func scanCampaign(row pgx.Row) (Campaign, error) {
	var c Campaign
	var cur string
	var target, hardCap, minTicket, committed decimal.Decimal
	var price *decimal.Decimal
	if err := row.Scan(&c.ID, &c.IssuerID, &c.Kind, &c.Funding, &c.Pack, &cur, &c.Title, &c.RiskLevel, &target, &hardCap, &minTicket, &price,
		&c.FeeRate, &c.LeadInvestorID, &c.LeadMinShare, &c.CarryRate, &c.PlatformCarryRate, &c.MaxInvestors, &c.StartsAt, &c.Deadline,
		&c.State, &c.StateAt, &c.CreatedBy, &c.ApprovedBy, &c.RejectionReason, &c.EscrowAccountID, &c.PayableAccountID, &committed,
		&c.Investors, &c.Milestones, &c.CreatedAt); err != nil {
		return Campaign{}, err
	}
	ccy, err := money.Lookup(cur)
	if err != nil {
		return Campaign{}, err
	}
	c.Target, _ = money.FromDecimal(ccy, target)
	c.HardCap, _ = money.FromDecimal(ccy, hardCap)
	c.MinTicket, _ = money.FromDecimal(ccy, minTicket)
	c.Committed, _ = money.FromDecimal(ccy, committed)
	if price != nil {
		p, _ := money.FromDecimal(ccy, *price)
		c.PricePerShare = &p
	}
	return c, nil
}

// Get reads a campaign with its tiers.
func (s *Service) Get(ctx context.Context, id uuid.UUID) (Campaign, error) {
	return s.get(ctx, s.db, id, false)
}

func (s *Service) get(ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
	Query(context.Context, string, ...any) (pgx.Rows, error)
}, id uuid.UUID, lock bool) (Campaign, error) {
	sql := `SELECT ` + campaignColumns + ` FROM campaigns WHERE id = $1`
	if lock {
		sql += ` FOR UPDATE`
	}
	c, err := scanCampaign(q.QueryRow(ctx, sql, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return Campaign{}, ErrNotFound
	}
	if err != nil {
		return Campaign{}, fmt.Errorf("get campaign: %w", err)
	}
	rows, err := q.Query(ctx, `SELECT tier, title, price, quantity_limit, sold, delivery_by FROM campaign_tiers WHERE campaign_id = $1 ORDER BY tier`, id)
	if err != nil {
		return Campaign{}, err
	}
	defer rows.Close()
	for rows.Next() {
		var t Tier
		var price decimal.Decimal
		if err := rows.Scan(&t.ID, &t.Title, &price, &t.QuantityLimit, &t.Sold, &t.DeliveryBy); err != nil {
			return Campaign{}, err
		}
		t.Price, _ = money.FromDecimal(c.Target.Currency(), price)
		c.Tiers = append(c.Tiers, t)
	}
	return c, rows.Err()
}

// transition moves a locked campaign from one state to another, recording it.
func (s *Service) transition(ctx context.Context, tx pgx.Tx, c *Campaign, to string, facts map[string]any) error {
	if !legal(c.State, to) {
		return fmt.Errorf("%w: %s → %s", ErrIllegalTransition, c.State, to)
	}
	if _, err := tx.Exec(ctx, `UPDATE campaigns SET state = $2, state_at = clock_timestamp() WHERE id = $1`, c.ID, to); err != nil {
		return err
	}
	if err := s.record(ctx, tx, c.ID, "campaign.transition", c.State, to, facts); err != nil {
		return err
	}
	c.State = to
	return nil
}

// Disclosure is a document attached when submitting for review.
type Disclosure struct {
	Title        string `json:"title"`
	DocumentHash string `json:"document_hash"` // SHA-256, hex
	Kind         string `json:"kind"`          // business_plan, financials, risk_disclosure, product_spec, ...
}

// Submit sends a draft (or a rejected campaign) for compliance review with its disclosures.
func (s *Service) Submit(ctx context.Context, id uuid.UUID, ds []Disclosure) (Campaign, error) {
	if len(ds) == 0 {
		return Campaign{}, invalid("disclosures", errors.New("at least one disclosure is required"))
	}
	for i, d := range ds {
		if d.Title == "" || d.Kind == "" || len(d.DocumentHash) != 64 {
			return Campaign{}, invalid(fmt.Sprintf("disclosures[%d]", i), errors.New("needs a title, a kind and a SHA-256 document hash (64 hex characters)"))
		}
	}
	return s.change(ctx, id, func(tx pgx.Tx, c *Campaign) error {
		if black, err := s.reg.Blacklisted(ctx, tx, c.IssuerID, s.Now()); err != nil {
			return err
		} else if black {
			return ErrIssuerBlacklisted
		}
		raw, _ := json.Marshal(ds)
		if _, err := tx.Exec(ctx, `UPDATE campaigns SET disclosures = $2::text::jsonb, rejection_reason = NULL WHERE id = $1`, c.ID, string(raw)); err != nil {
			return err
		}
		return s.transition(ctx, tx, c, Submitted, map[string]any{"disclosures": len(ds)})
	})
}

// Approve is the compliance decision to let a campaign go live (maker-checker).
func (s *Service) Approve(ctx context.Context, id uuid.UUID) (Campaign, error) {
	return s.change(ctx, id, func(tx pgx.Tx, c *Campaign) error {
		if !legal(c.State, Approved) {
			return fmt.Errorf("%w: %s → %s", ErrIllegalTransition, c.State, Approved)
		}
		me := actorName(ctx)
		if me == c.CreatedBy {
			return ErrSameApprover
		}
		if _, err := tx.Exec(ctx, `UPDATE campaigns SET approved_by = $2 WHERE id = $1`, c.ID, me); err != nil {
			return err
		}
		if err := s.transition(ctx, tx, c, Approved, nil); err != nil {
			return err
		}
		if !s.Now().Before(c.StartsAt) {
			return s.transition(ctx, tx, c, Live, map[string]any{"trigger": "approved after start"})
		}
		return nil
	})
}

// Reject returns a submitted campaign to its issuer with reasons.
func (s *Service) Reject(ctx context.Context, id uuid.UUID, reason string) (Campaign, error) {
	if reason == "" {
		return Campaign{}, invalid("reason", errors.New("a rejection needs reasons"))
	}
	return s.change(ctx, id, func(tx pgx.Tx, c *Campaign) error {
		if !legal(c.State, Rejected) {
			return fmt.Errorf("%w: %s → %s", ErrIllegalTransition, c.State, Rejected)
		}
		if actorName(ctx) == c.CreatedBy {
			return ErrSameApprover
		}
		if _, err := tx.Exec(ctx, `UPDATE campaigns SET rejection_reason = $2 WHERE id = $1`, c.ID, reason); err != nil {
			return err
		}
		return s.transition(ctx, tx, c, Rejected, map[string]any{"reason": reason})
	})
}

// change runs fn on the locked campaign in a retrying transaction.
func (s *Service) change(ctx context.Context, id uuid.UUID, fn func(tx pgx.Tx, c *Campaign) error) (Campaign, error) {
	err := pg.InTx(ctx, s.db, func(tx pgx.Tx) error {
		c, err := s.get(ctx, tx, id, true)
		if err != nil {
			return err
		}
		return fn(tx, &c)
	})
	if err != nil {
		return Campaign{}, err
	}
	return s.Get(ctx, id)
}
