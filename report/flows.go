package report

import (
	"context"
	"errors"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/crowdledger/crowdledger/internal/money"
)

// Node is one place a campaign's money sits or goes in its fund flow.
type Node string

// The nodes of a campaign's fund flow, in the order money reaches them.
const (
	NodeInvestors     Node = "investors"     // the investors' wallets the commitments come from
	NodeEscrow        Node = "escrow"        // the campaign's escrow account
	NodeReleased      Node = "released"      // holds voided back to the investors (cancelled, refunded on failure)
	NodeEscrowHeld    Node = "escrow_held"   // what the escrow still holds
	NodePlatformFee   Node = "platform_fee"  // the platform's fee revenue
	NodePayable       Node = "payable"       // owed to the issuer after settlement
	NodePayableHeld   Node = "payable_held"  // what the payable still holds (not yet disbursed)
	NodeIssuerWallet  Node = "issuer_wallet" // the issuer's wallet, paid from the payable
	NodeRefunds       Node = "refunds"       // after-sales and late-delivery refunds to backers
	NodeDistributions Node = "distributions" // distributions and capital returned to holders
	NodeCarry         Node = "carry"         // carried interest (lead and platform)
	NodeOther         Node = "other"         // a campaign flow of a code this model does not name
	nodeOfAccount     Node = ""              // placeholder: the node is the source account's
)

// Link is one edge of the fund flow: money moved from one node to another
// by transfers of one code, summed.
type Link struct {
	From   Node         `json:"from"`
	To     Node         `json:"to"`
	Code   string       `json:"code"`
	Amount money.Amount `json:"amount"`
	Count  int64        `json:"count"`
}

// Held is one of the campaign's own accounts: what the flows say it should
// hold (in less out) beside the balance the ledger keeps for it.
type Held struct {
	AccountID  uuid.UUID    `json:"account_id"`
	In         money.Amount `json:"in"`
	Out        money.Amount `json:"out"`
	Balance    money.Amount `json:"balance"`
	Reconciled bool         `json:"reconciled"`
}

// FundFlows is a campaign's money as a graph: every yuan that entered its
// escrow and where it went, summed per kind of move, so a page can draw it
// without downloading the campaign's commitments one by one.
type FundFlows struct {
	CampaignID uuid.UUID `json:"campaign_id"`
	Currency   string    `json:"currency"`
	Links      []Link    `json:"links"`
	Escrow     Held      `json:"escrow"`
	Payable    Held      `json:"payable"`
}

// flowTarget is where a campaign transfer of a code goes: one decision for
// every code a campaign's money moves by. The source is the account it
// debits (escrow, payable, or the node the code names for accounts outside
// the campaign).
var flowTarget = map[string]struct{ from, to Node }{
	"platform_fee":        {nodeOfAccount, NodePlatformFee},
	"issuer_payout":       {nodeOfAccount, NodePayable},
	"issuer_disbursement": {nodeOfAccount, NodeIssuerWallet},
	"refund":              {nodeOfAccount, NodeRefunds},
	"fee_refund":          {NodePlatformFee, NodeRefunds},
	"distribution":        {NodeIssuerWallet, NodeDistributions},
	"capital_return":      {NodeIssuerWallet, NodeDistributions},
	"carry":               {NodeIssuerWallet, NodeCarry},
	"platform_carry":      {NodeIssuerWallet, NodeCarry},
}

// FundFlows sums a campaign's money moves in one snapshot: the commitments
// by state (what came in and what was released), its other transfers by
// code and source account (one index range on the campaign's transfers),
// and the balances the ledger keeps for its escrow and payable.
func (r *Reporter) FundFlows(ctx context.Context, id uuid.UUID) (FundFlows, error) {
	var out FundFlows
	err := r.ledger.WithTxRead(ctx, func(tx pgx.Tx) error {
		var cur string
		var escrow, payable uuid.UUID
		err := tx.QueryRow(ctx, `SELECT currency, escrow_account_id, payable_account_id FROM campaigns WHERE id = $1`, id).Scan(&cur, &escrow, &payable)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		ccy, err := money.Lookup(cur)
		if err != nil {
			return err
		}
		amt := func(d decimal.Decimal) (money.Amount, error) { return money.FromDecimal(ccy, d) }
		out = FundFlows{CampaignID: id, Currency: cur, Links: []Link{}}
		add := func(from, to Node, code string, d decimal.Decimal, n int64) error {
			a, err := amt(d)
			if err != nil || a.Sign() == 0 {
				return err
			}
			out.Links = append(out.Links, Link{From: from, To: to, Code: code, Amount: a, Count: n})
			return nil
		}
		// Commitments: every hold credited the escrow; a cancelled or refunded
		// (failed campaign) one was voided back to its investor.
		var all, released decimal.Decimal
		var nAll, nReleased int64
		if err := tx.QueryRow(ctx, `SELECT coalesce(sum(amount), 0), count(*),
				coalesce(sum(amount) FILTER (WHERE state IN ('cancelled', 'refunded')), 0), count(*) FILTER (WHERE state IN ('cancelled', 'refunded'))
			FROM commitments WHERE campaign_id = $1`, id).Scan(&all, &nAll, &released, &nReleased); err != nil {
			return err
		}
		if err := add(NodeInvestors, NodeEscrow, "commitment", all, nAll); err != nil {
			return err
		}
		if err := add(NodeEscrow, NodeReleased, "release", released, nReleased); err != nil {
			return err
		}
		escrowOut, payableIn, payableOut := released, decimal.Zero, decimal.Zero
		rows, err := tx.Query(ctx, `SELECT code, debit_account_id = $2, debit_account_id = $3, credit_account_id = $3, sum(amount), count(*)
			FROM transfers WHERE metadata->>'campaign_id' = $1::text AND kind = 'posted'
			GROUP BY 1, 2, 3, 4 ORDER BY 1, 2 DESC, 3 DESC`, id.String(), escrow, payable)
		if err != nil {
			return err
		}
		var (
			code                       string
			fromEscrow, fromPay, toPay bool
			sum                        decimal.Decimal
			n                          int64
		)
		_, err = pgx.ForEachRow(rows, []any{&code, &fromEscrow, &fromPay, &toPay, &sum, &n}, func() error {
			t, known := flowTarget[code]
			from, to := t.from, t.to
			switch {
			case fromEscrow:
				from, escrowOut = NodeEscrow, escrowOut.Add(sum)
			case fromPay:
				from, payableOut = NodePayable, payableOut.Add(sum)
			case from == nodeOfAccount || !known:
				from = NodeOther
			}
			if toPay {
				payableIn = payableIn.Add(sum)
			}
			if !known {
				to = NodeOther
			}
			return add(from, to, code, sum, n)
		})
		if err != nil {
			return err
		}
		var eb, pb struct{ dp, cp, cq decimal.Decimal }
		if err := tx.QueryRow(ctx, `SELECT e.debits_posted, e.credits_posted, e.credits_pending, p.debits_posted, p.credits_posted, p.credits_pending
			FROM accounts e, accounts p WHERE e.id = $1 AND p.id = $2`, escrow, payable).Scan(&eb.dp, &eb.cp, &eb.cq, &pb.dp, &pb.cp, &pb.cq); err != nil {
			return err
		}
		if out.Escrow, err = held(ccy, escrow, all, escrowOut, eb.cp.Sub(eb.dp).Add(eb.cq)); err != nil {
			return err
		}
		if out.Payable, err = held(ccy, payable, payableIn, payableOut, pb.cp.Sub(pb.dp).Add(pb.cq)); err != nil {
			return err
		}
		if err := add(NodeEscrow, NodeEscrowHeld, "held", out.Escrow.Balance.Decimal(), 0); err != nil {
			return err
		}
		return add(NodePayable, NodePayableHeld, "held", out.Payable.Balance.Decimal(), 0)
	})
	return out, err
}

// held is an account's reconciliation: the flows in less the flows out
// against the balance the ledger keeps (posted and reserved).
func held(ccy money.Currency, id uuid.UUID, in, out, balance decimal.Decimal) (Held, error) {
	h := Held{AccountID: id}
	var err error
	if h.In, err = money.FromDecimal(ccy, in); err != nil {
		return h, err
	}
	if h.Out, err = money.FromDecimal(ccy, out); err != nil {
		return h, err
	}
	if h.Balance, err = money.FromDecimal(ccy, balance); err != nil {
		return h, err
	}
	h.Reconciled = in.Sub(out).Equal(balance)
	return h, nil
}
