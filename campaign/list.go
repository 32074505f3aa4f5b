package campaign

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/crowdledger/crowdledger/audit"
	"github.com/crowdledger/crowdledger/internal/page"
)

// States lists every campaign state, in lifecycle order.
var States = []string{Draft, Submitted, Approved, Rejected, Live, Succeeded, Failed, Settled, Refunded, Fulfilled}

// Public reports whether a campaign in state is public: anyone may see it
// once compliance approved it. Drafts, campaigns under review and rejected
// ones (with the reasons) stay between the issuer and the platform.
func Public(state string) bool {
	switch state {
	case Draft, Submitted, Rejected:
		return false
	}
	return true
}

// publicStates are the states Public admits, for queries.
func publicStates() []string {
	var out []string
	for _, s := range States {
		if Public(s) {
			out = append(out, s)
		}
	}
	return out
}

// CampaignFilter narrows a list of campaigns; zero fields do not narrow.
type CampaignFilter struct {
	State, Kind, Currency string
	IssuerID              *uuid.UUID
	// Title matches campaigns whose title contains it, case-insensitively.
	Title                    string
	DeadlineFrom, DeadlineTo *time.Time
	// Viewer, when set, limits the list to what a scoped party may see:
	// public campaigns and, for an issuer, its own in every state.
	Viewer *uuid.UUID
}

func (f CampaignFilter) validate() error {
	switch {
	case f.State != "" && !slices.Contains(States, f.State):
		return invalid("state", fmt.Errorf("state must be one of %s", strings.Join(States, ", ")))
	case f.Kind != "" && f.Kind != "reward" && f.Kind != "equity":
		return invalid("kind", errors.New("kind must be reward or equity"))
	case f.Title != "" && utf8.RuneCountInString(f.Title) < 2:
		return invalid("q", errors.New("the search text is at least 2 characters"))
	case f.DeadlineFrom != nil && f.DeadlineTo != nil && f.DeadlineFrom.After(*f.DeadlineTo):
		return invalid("deadline_from", errors.New("deadline_from is after deadline_to"))
	}
	return nil
}

// Campaigns lists campaigns newest first (without their tiers: Get has them).
func (s *Service) Campaigns(ctx context.Context, f CampaignFilter, r page.Request) (page.Of[Campaign], error) {
	if err := f.validate(); err != nil {
		return page.Of[Campaign]{}, err
	}
	q := page.Select(`SELECT `+campaignColumns+` FROM campaigns`, "created_at", "id")
	if f.State != "" {
		q.Where("state = ?", f.State)
	}
	if f.Kind != "" {
		q.Where("kind = ?", f.Kind)
	}
	if f.Currency != "" {
		q.Where("currency = ?", f.Currency)
	}
	if f.IssuerID != nil {
		q.Where("issuer_id = ?", *f.IssuerID)
	}
	if f.Title != "" {
		// The pairs index (migration 031) finds the titles holding every
		// pair of characters of the search; ILIKE keeps those that hold it.
		q.Where(`title_bigrams(title) @> title_bigrams(?) AND title ILIKE ?`, f.Title, "%"+likeEscape(f.Title)+"%")
	}
	if f.DeadlineFrom != nil {
		q.Where("deadline >= ?", *f.DeadlineFrom)
	}
	if f.DeadlineTo != nil {
		q.Where("deadline < ?", *f.DeadlineTo)
	}
	if f.Viewer != nil {
		q.Where("(state = ANY(?) OR issuer_id = ?)", publicStates(), *f.Viewer)
	}
	p, err := page.Collect(ctx, s.db, q, r, scanCampaign, func(c Campaign) page.Key { return page.Key{At: c.CreatedAt, ID: c.ID} })
	if err != nil {
		return p, fmt.Errorf("list campaigns: %w", err)
	}
	return p, nil
}

// likeEscape makes s match itself in a LIKE pattern.
func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// CommitmentFilter narrows a list of commitments; zero fields do not narrow.
type CommitmentFilter struct {
	CampaignID, InvestorID *uuid.UUID
	State                  string
	// ForInvestor and ForIssuer limit the list to what a scoped party may
	// see, whatever else the filter asks: an investor's own commitments,
	// those in an issuer's campaigns.
	ForInvestor, ForIssuer *uuid.UUID
}

var commitmentStates = []string{"live", "cancelled", "settled", "refunded"}

// Commitments lists commitments newest first.
func (s *Service) Commitments(ctx context.Context, f CommitmentFilter, r page.Request) (page.Of[Commitment], error) {
	if f.State != "" && !slices.Contains(commitmentStates, f.State) {
		return page.Of[Commitment]{}, invalid("state", fmt.Errorf("state must be one of %s", strings.Join(commitmentStates, ", ")))
	}
	q := page.Select(`SELECT `+commitmentColumns+` FROM commitments c JOIN campaigns k ON k.id = c.campaign_id`, "c.created_at", "c.id")
	if f.CampaignID != nil {
		q.Where("c.campaign_id = ?", *f.CampaignID)
	}
	if f.InvestorID != nil {
		q.Where("c.investor_id = ?", *f.InvestorID)
	}
	if f.ForInvestor != nil {
		q.Where("c.investor_id = ?", *f.ForInvestor)
	}
	if f.ForIssuer != nil {
		q.Where("k.issuer_id = ?", *f.ForIssuer)
	}
	if f.State != "" {
		q.Where("c.state = ?", f.State)
	}
	p, err := page.Collect(ctx, s.db, q, r, scanCommitment, func(c Commitment) page.Key { return page.Key{At: c.CreatedAt, ID: c.ID} })
	if err != nil {
		return p, fmt.Errorf("list commitments: %w", err)
	}
	return p, nil
}

// OrderFilter narrows a list of orders; zero fields do not narrow.
type OrderFilter struct {
	CampaignID, BackerID *uuid.UUID
	State                string
	// ForBacker and ForIssuer limit the list to what a scoped party may
	// see, whatever else the filter asks.
	ForBacker, ForIssuer *uuid.UUID
}

var orderStates = []string{"awaiting_shipment", "shipped", "received", "disputed", "refunded", "resolved"}

// Orders lists orders newest first.
func (s *Service) Orders(ctx context.Context, f OrderFilter, r page.Request) (page.Of[Order], error) {
	if f.State != "" && !slices.Contains(orderStates, f.State) {
		return page.Of[Order]{}, invalid("state", fmt.Errorf("state must be one of %s", strings.Join(orderStates, ", ")))
	}
	q := page.Select(`SELECT `+orderColumns+` FROM orders o JOIN campaigns k ON k.id = o.campaign_id`, "o.created_at", "o.id")
	if f.CampaignID != nil {
		q.Where("o.campaign_id = ?", *f.CampaignID)
	}
	if f.BackerID != nil {
		q.Where("o.backer_id = ?", *f.BackerID)
	}
	if f.ForBacker != nil {
		q.Where("o.backer_id = ?", *f.ForBacker)
	}
	if f.ForIssuer != nil {
		q.Where("k.issuer_id = ?", *f.ForIssuer)
	}
	if f.State != "" {
		q.Where("o.state = ?", f.State)
	}
	p, err := page.Collect(ctx, s.db, q, r, scanOrder, func(o Order) page.Key { return page.Key{At: o.CreatedAt, ID: o.ID} })
	if err != nil {
		return p, fmt.Errorf("list orders: %w", err)
	}
	return p, nil
}

// Disclosures returns the documents a campaign was submitted with.
func (s *Service) Disclosures(ctx context.Context, id uuid.UUID) ([]Disclosure, error) {
	var raw []byte
	if err := s.db.QueryRow(ctx, `SELECT disclosures::text FROM campaigns WHERE id = $1`, id).Scan(&raw); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, ErrNotFound
		}
		return nil, fmt.Errorf("disclosures: %w", err)
	}
	ds := []Disclosure{}
	if err := json.Unmarshal(raw, &ds); err != nil {
		return nil, fmt.Errorf("stored disclosures: %w", err)
	}
	return ds, nil
}

// FeedScope is what a party sees of the event feed and its webhooks: the
// events naming it, and those of the campaigns it follows (an issuer's own,
// or those an investor committed to).
func (s *Service) FeedScope(ctx context.Context, party uuid.UUID, issuer bool) (audit.FeedScope, error) {
	sql := `SELECT DISTINCT campaign_id FROM commitments WHERE investor_id = $1`
	if issuer {
		sql = `SELECT id FROM campaigns WHERE issuer_id = $1`
	}
	rows, err := s.db.Query(ctx, sql, party)
	if err != nil {
		return audit.FeedScope{}, fmt.Errorf("campaigns of %s: %w", party, err)
	}
	campaigns, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	return audit.FeedScope{Party: &party, Campaigns: campaigns, Issuer: issuer}, err
}
