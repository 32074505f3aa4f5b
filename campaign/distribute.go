package campaign

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/crowdledger/crowdledger/internal/money"
	"github.com/crowdledger/crowdledger/internal/pg"
	"github.com/crowdledger/crowdledger/ledger"
)

// Line is one part of a distribution.
type Line struct {
	InvestorID *uuid.UUID
	VehicleID  *uuid.UUID
	Part       string // holder, capital_return, profit, carry, platform_carry
	Amount     money.Amount
}

// Distribution is a stored split of proceeds.
type Distribution struct {
	ID     uuid.UUID
	Amount money.Amount
	Lines  []Line
}

type member struct {
	investor uuid.UUID
	shares   int64
	capital  decimal.Decimal // committed
	returned decimal.Decimal // capital returned by earlier distributions
}

// ErrIssuerFundsShort: a distribution is paid from the issuer's wallet,
// which does not hold the amount (deposit into it, or disburse the
// campaign's payable into it, first).
var ErrIssuerFundsShort = errors.New("the issuer's wallet does not hold the distribution: deposit into it, or disburse the campaign's proceeds into it, first")

// Distribute pays proceeds from the issuer's wallet to a settled equity
// campaign's holders, in one atomic ledger entry. The amount is split by
// shares held (largest remainder, so the parts sum exactly); a syndicate
// vehicle's part first returns its members' capital, and of what is left
// the lead takes the carry, the platform its carry, the members the rest,
// each split again by largest remainder.
func (s *Service) Distribute(ctx context.Context, campaignID uuid.UUID, amount money.Amount, kind, key string) (Distribution, error) {
	if kind != "dividend" && kind != "exit" {
		return Distribution{}, invalid("kind", errors.New("must be dividend or exit"))
	}
	if key == "" {
		return Distribution{}, invalid("idempotency_key", errors.New("is required"))
	}
	c, err := s.Get(ctx, campaignID)
	if err != nil {
		return Distribution{}, err
	}
	if c.Kind != "equity" || (c.State != Settled && c.State != Fulfilled) {
		return Distribution{}, fmt.Errorf("%w: only a settled equity campaign distributes", ErrIllegalTransition)
	}
	if amount.Currency() != c.Target.Currency() || amount.Sign() <= 0 {
		return Distribution{}, invalid("amount", errors.New("must be positive, in the campaign's currency"))
	}
	var existing uuid.UUID
	if err := s.db.QueryRow(ctx, `SELECT id FROM distributions WHERE idempotency_key = $1`, key).Scan(&existing); err == nil {
		return s.distribution(ctx, existing)
	}
	cur := amount.Currency()
	issuerWallet, err := s.Wallet(ctx, c.IssuerID, cur)
	if err != nil {
		return Distribution{}, err
	}
	platformCarry, err := s.platformAccount(ctx, ledger.CodePlatformCarry, cur)
	if err != nil {
		return Distribution{}, err
	}
	id := uuid.New()
	err = pg.InTx(ctx, s.db, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT c.investor_id, c.vehicle_id, c.shares, c.amount,
				coalesce((SELECT sum(l.amount) FROM distribution_lines l JOIN distributions d ON d.id = l.distribution_id
				          WHERE d.campaign_id = c.campaign_id AND l.investor_id = c.investor_id AND l.part = 'capital_return'), 0)
			FROM commitments c WHERE c.campaign_id = $1 AND c.state = 'settled' AND c.shares IS NOT NULL ORDER BY c.created_at, c.id`, c.ID)
		if err != nil {
			return err
		}
		var direct []member
		vehicles := map[uuid.UUID][]member{}
		var vehicleOrder []uuid.UUID
		for rows.Next() {
			var m member
			var veh *uuid.UUID
			if err := rows.Scan(&m.investor, &veh, &m.shares, &m.capital, &m.returned); err != nil {
				rows.Close()
				return err
			}
			if veh == nil {
				direct = append(direct, m)
				continue
			}
			if _, ok := vehicles[*veh]; !ok {
				vehicleOrder = append(vehicleOrder, *veh)
			}
			vehicles[*veh] = append(vehicles[*veh], m)
		}
		rows.Close()
		if len(direct)+len(vehicleOrder) == 0 {
			return errors.New("the campaign has no holders")
		}
		// First split: by shares, direct holders and vehicles alike.
		var weights []decimal.Decimal
		for _, m := range direct {
			weights = append(weights, decimal.NewFromInt(m.shares))
		}
		for _, v := range vehicleOrder {
			var n int64
			for _, m := range vehicles[v] {
				n += m.shares
			}
			weights = append(weights, decimal.NewFromInt(n))
		}
		parts, err := amount.Allocate(weights...)
		if err != nil {
			return err
		}
		var lines []Line
		for i, m := range direct {
			inv := m.investor
			lines = append(lines, Line{InvestorID: &inv, Part: "holder", Amount: parts[i]})
		}
		for j, v := range vehicleOrder {
			vl, err := s.splitVehicle(c, v, vehicles[v], parts[len(direct)+j])
			if err != nil {
				return err
			}
			lines = append(lines, vl...)
		}
		// Pay: one atomic entry from the issuer's wallet.
		var ts []ledger.TransferRequest
		var paid []int
		for i, l := range lines {
			if l.Amount.Sign() == 0 {
				continue
			}
			to := platformCarry
			if l.InvestorID != nil {
				if to, err = s.walletTx(ctx, tx, *l.InvestorID, cur); err != nil {
					return fmt.Errorf("holder %s: %w", l.InvestorID, err)
				}
			}
			code := map[string]string{"holder": "distribution", "capital_return": "capital_return", "profit": "distribution", "carry": "carry", "platform_carry": "platform_carry"}[l.Part]
			ts = append(ts, ledger.TransferRequest{Kind: ledger.KindPosted, DebitAccountID: issuerWallet, CreditAccountID: to, Amount: l.Amount, Code: code,
				Metadata: json.RawMessage(fmt.Sprintf(`{"campaign_id":%q,"distribution_id":%q,"kind":%q}`, c.ID, id, kind))})
			paid = append(paid, i)
		}
		e, err := s.ledger.ApplyTx(ctx, tx, "distribution:"+key, ts, ledger.LedgerRecords)
		if errors.Is(err, ledger.ErrInsufficientFunds) {
			// Say where the money comes from, and what is there.
			held := "nothing"
			if a, aerr := s.ledger.Account(ctx, issuerWallet); aerr == nil {
				avail, _ := a.Balances.CreditsPosted.Sub(a.Balances.DebitsPosted)
				avail, _ = avail.Sub(a.Balances.DebitsPending)
				held = avail.String()
			}
			return &CapError{Kind: ErrIssuerFundsShort, Remaining: held}
		}
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO distributions (id, campaign_id, kind, amount, entry_id, idempotency_key) VALUES ($1, $2, $3, $4, $5, $6)`,
			id, c.ID, kind, amount.Decimal(), e.ID, key); err != nil {
			return err
		}
		transfer := map[int]uuid.UUID{}
		for k, i := range paid {
			transfer[i] = e.Transfers[k].ID
		}
		for i, l := range lines {
			var tid *uuid.UUID
			if t, ok := transfer[i]; ok {
				tid = &t
			}
			if _, err := tx.Exec(ctx, `INSERT INTO distribution_lines (distribution_id, line, investor_id, vehicle_id, part, amount, transfer_id)
				VALUES ($1, $2, $3, $4, $5, $6, $7)`, id, i, l.InvestorID, l.VehicleID, l.Part, l.Amount.Decimal(), tid); err != nil {
				return err
			}
		}
		return s.record(ctx, tx, c.ID, "campaign.distribute", "", "", map[string]any{"distribution_id": id, "kind": kind,
			"amount": amount.String(), "lines": len(lines), "entry_id": e.ID})
	})
	if err != nil {
		return Distribution{}, err
	}
	return s.distribution(ctx, id)
}

// splitVehicle divides a vehicle's part: capital back first (pro rata to
// what each member still has outstanding), then the profit between lead
// carry, platform carry and the members (pro rata to shares).
func (s *Service) splitVehicle(c Campaign, v uuid.UUID, ms []member, part money.Amount) ([]Line, error) {
	cur := part.Currency()
	outstanding := decimal.Zero
	var owed []decimal.Decimal
	for _, m := range ms {
		o := decimal.Max(m.capital.Sub(m.returned), decimal.Zero)
		owed = append(owed, o)
		outstanding = outstanding.Add(o)
	}
	capBack := part
	if outstanding.Cmp(part.Decimal()) < 0 {
		capBack, _ = money.FromDecimal(cur, outstanding)
	}
	var lines []Line
	vid := v
	if capBack.Sign() > 0 {
		back, err := capBack.Allocate(owed...)
		if err != nil {
			return nil, err
		}
		for i, m := range ms {
			inv := m.investor
			lines = append(lines, Line{InvestorID: &inv, VehicleID: &vid, Part: "capital_return", Amount: back[i]})
		}
	}
	profit, _ := part.Sub(capBack)
	if profit.Sign() <= 0 {
		return lines, nil
	}
	rest := decimal.NewFromInt(1).Sub(c.CarryRate).Sub(c.PlatformCarryRate)
	split, err := profit.Allocate(c.CarryRate, c.PlatformCarryRate, rest)
	if err != nil {
		return nil, err
	}
	lead := c.LeadInvestorID
	if lead == nil {
		// no lead: the carry stays with the members
		split[2], _ = split[2].Add(split[0])
		split[0] = money.Zero(cur)
	} else {
		lines = append(lines, Line{InvestorID: lead, VehicleID: &vid, Part: "carry", Amount: split[0]})
	}
	lines = append(lines, Line{VehicleID: &vid, Part: "platform_carry", Amount: split[1]})
	var w []decimal.Decimal
	for _, m := range ms {
		w = append(w, decimal.NewFromInt(m.shares))
	}
	shares, err := split[2].Allocate(w...)
	if err != nil {
		return nil, err
	}
	for i, m := range ms {
		inv := m.investor
		lines = append(lines, Line{InvestorID: &inv, VehicleID: &vid, Part: "profit", Amount: shares[i]})
	}
	return lines, nil
}

func (s *Service) distribution(ctx context.Context, id uuid.UUID) (Distribution, error) {
	var d Distribution
	var amount decimal.Decimal
	var cur string
	if err := s.db.QueryRow(ctx, `SELECT d.id, d.amount, k.currency FROM distributions d JOIN campaigns k ON k.id = d.campaign_id WHERE d.id = $1`, id).
		Scan(&d.ID, &amount, &cur); err != nil {
		return Distribution{}, err
	}
	ccy, _ := money.Lookup(cur)
	d.Amount, _ = money.FromDecimal(ccy, amount)
	rows, err := s.db.Query(ctx, `SELECT investor_id, vehicle_id, part, amount FROM distribution_lines WHERE distribution_id = $1 ORDER BY line`, id)
	if err != nil {
		return Distribution{}, err
	}
	defer rows.Close()
	for rows.Next() {
		var l Line
		var a decimal.Decimal
		if err := rows.Scan(&l.InvestorID, &l.VehicleID, &l.Part, &a); err != nil {
			return Distribution{}, err
		}
		l.Amount, _ = money.FromDecimal(ccy, a)
		d.Lines = append(d.Lines, l)
	}
	return d, rows.Err()
}
