package registry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/crowdledger/crowdledger/compliance"
	"github.com/crowdledger/crowdledger/internal/money"
	"github.com/crowdledger/crowdledger/ledger"
)

// CommitmentRequest is one intended commitment to check.
type CommitmentRequest struct {
	InvestorID   uuid.UUID
	IssuerID     uuid.UUID
	Pack         string
	CampaignRisk int // R1..R5
	Amount       money.Amount
	Acknowledged bool
	At           time.Time
	Reward       bool // a reward pledge: see compliance.Facts.Reward
	AsLead       bool // the campaign's lead investor committing
}

// CheckCommitment runs the pre-commitment check inside tx, the transaction
// that will also move the money. It locks the investor's and the issuer's
// party rows (in id order, so concurrent checks cannot deadlock) before
// reading limits and counts: two commitments racing for the last of a limit
// run one after the other, and the second sees the first. The caller
// commits only if the result allows it.
func (r *Registry) CheckCommitment(ctx context.Context, tx pgx.Tx, req CommitmentRequest) (compliance.Result, error) {
	at := req.At
	if at.IsZero() {
		at = r.Now()
	}
	pack, err := compliance.Pack(req.Pack, at)
	if err != nil {
		return compliance.Result{}, invalid("pack", err)
	}
	if req.CampaignRisk < 1 || req.CampaignRisk > 5 {
		return compliance.Result{}, invalid("campaign_risk", errors.New("must be 1 to 5 (R1-R5)"))
	}
	ids := []uuid.UUID{req.InvestorID, req.IssuerID}
	if bytes.Compare(ids[0][:], ids[1][:]) > 0 {
		ids[0], ids[1] = ids[1], ids[0]
	}
	status := map[uuid.UUID]string{}
	role := map[uuid.UUID]string{}
	rows, err := tx.Query(ctx, `SELECT id, role, status FROM parties WHERE id = ANY($1) ORDER BY id FOR UPDATE`, ids)
	if err != nil {
		return compliance.Result{}, fmt.Errorf("lock parties: %w", err)
	}
	for rows.Next() {
		var id uuid.UUID
		var ro, st string
		if err := rows.Scan(&id, &ro, &st); err != nil {
			rows.Close()
			return compliance.Result{}, err
		}
		role[id], status[id] = ro, st
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return compliance.Result{}, err
	}
	// The check's time is taken after the locks: a commitment that won the
	// race committed before this instant and falls inside the window.
	if req.At.IsZero() {
		if err := tx.QueryRow(ctx, `SELECT clock_timestamp()`).Scan(&req.At); err != nil {
			return compliance.Result{}, err
		}
	}
	if _, ok := role[req.InvestorID]; !ok {
		return compliance.Result{}, invalid("investor_id", ErrPartyNotFound)
	}
	if role[req.IssuerID] != "issuer" {
		if _, ok := role[req.IssuerID]; !ok {
			return compliance.Result{}, invalid("issuer_id", ErrPartyNotFound)
		}
		return compliance.Result{}, invalid("issuer_id", ErrWrongRole)
	}
	f := compliance.Facts{At: req.At, Pack: pack, Amount: req.Amount, Acknowledged: req.Acknowledged, CampaignRisk: req.CampaignRisk,
		InvestorVerified: status[req.InvestorID] == StatusVerified, IssuerVerified: status[req.IssuerID] == StatusVerified,
		InvestorIsIssuer: req.InvestorID == req.IssuerID, Reward: req.Reward, AsLead: req.AsLead}
	if f.InvestorBlacklisted, err = onList(ctx, tx, Black, req.InvestorID, req.At); err != nil {
		return compliance.Result{}, err
	}
	if f.IssuerBlacklisted, err = onList(ctx, tx, Black, req.IssuerID, req.At); err != nil {
		return compliance.Result{}, err
	}
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM party_relations WHERE issuer_id = $1 AND related_id = $2)`,
		req.IssuerID, req.InvestorID).Scan(&f.InvestorRelated); err != nil {
		return compliance.Result{}, err
	}
	if f.Qualification, err = r.latestDecision(ctx, tx, req.InvestorID, pack.ID); err != nil {
		return compliance.Result{}, err
	}
	if req.Reward { // a purchase: no investment limits to sum
		f.InvestedInWindow, f.IssuerRaisedInWindow = money.Zero(pack.Currency), money.Zero(pack.Currency)
		return compliance.CheckCommitment(f), nil
	}
	// Everything after the window's start counts, including anything a
	// concurrent transaction committed while this one waited for the locks.
	from, until := req.At.AddDate(0, -pack.WindowMonths, 0), time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)
	if f.InvestedInWindow, err = ledger.CommittedByOwner(ctx, tx, Owner(req.InvestorID), ledger.CodeInvestorWallet, pack.Currency, from, until); err != nil {
		return compliance.Result{}, err
	}
	if f.IssuerRaisedInWindow, err = ledger.RaisedByOwner(ctx, tx, Owner(req.IssuerID), ledger.CodeCampaignEscrow, pack.Currency, from, until); err != nil {
		return compliance.Result{}, err
	}
	if pack.MaxInvestorsPerIssuer > 0 {
		if f.IssuerInvestors, f.InvestorAlreadyCounted, err = ledger.DistinctInvestors(ctx, tx, Owner(req.IssuerID), ledger.CodeCampaignEscrow, Owner(req.InvestorID)); err != nil {
			return compliance.Result{}, err
		}
	}
	return compliance.CheckCommitment(f), nil
}
