package campaign

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/shopspring/decimal"

	"github.com/crowdledger/crowdledger/audit"
	"github.com/crowdledger/crowdledger/internal/money"
	"github.com/crowdledger/crowdledger/ledger"
)

// Reconciliation compares the custody bank's reported balance with the
// ledger's custody account at the same instant, and shows where the money
// sits (资金存管, 分账管理).
type Reconciliation struct {
	Currency      money.Currency
	AsOf          time.Time
	BankBalance   money.Amount
	LedgerBalance money.Amount // what the ledger says the bank should hold
	Difference    money.Amount // bank - ledger; zero when reconciled
	ByCode        map[ledger.AccountCode]money.Amount
	StatementRef  string
}

// Reconcile checks a bank statement balance against the ledger as of its
// time and records the result in the audit trail. ByCode splits the money
// the bank holds by whose it is: investor wallets, campaign escrows, issuer
// payables, and the platform's own revenue.
func (s *Service) Reconcile(ctx context.Context, bank money.Amount, asOf time.Time, statementRef string) (Reconciliation, error) {
	if statementRef == "" {
		return Reconciliation{}, invalid("statement_reference", errors.New("the bank statement's reference is required"))
	}
	cur := bank.Currency()
	custody, err := s.platformAccount(ctx, ledger.CodeCustodyBank, cur)
	if err != nil {
		return Reconciliation{}, err
	}
	b, err := s.ledger.BalanceAsOf(ctx, custody, asOf)
	if err != nil {
		return Reconciliation{}, err
	}
	held, _ := b.DebitsPosted.Sub(b.CreditsPosted)
	r := Reconciliation{Currency: cur, AsOf: asOf.UTC(), BankBalance: bank, LedgerBalance: held, StatementRef: statementRef, ByCode: map[ledger.AccountCode]money.Amount{}}
	r.Difference, _ = bank.Sub(held)
	rows, err := s.db.Query(ctx, `SELECT a.code, coalesce(sum(e.credits_posted - e.debits_posted), 0)
		FROM accounts a
		JOIN LATERAL (SELECT credits_posted, debits_posted FROM account_entries ae
		              WHERE ae.account_id = a.id AND ae.created_at <= $2 ORDER BY created_at DESC, seq DESC LIMIT 1) e ON true
		WHERE a.currency = $1 AND a.code <> 'custody_bank' GROUP BY a.code ORDER BY a.code`, cur.Code(), asOf)
	if err != nil {
		return Reconciliation{}, fmt.Errorf("reconcile: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var code string
		var v decimal.Decimal
		if err := rows.Scan(&code, &v); err != nil {
			return Reconciliation{}, err
		}
		r.ByCode[ledger.AccountCode(code)], _ = money.FromDecimal(cur, v)
	}
	if err := rows.Err(); err != nil {
		return Reconciliation{}, err
	}
	ev, err := audit.New(ctx, "custody.reconcile", []string{custody.String()}, map[string]any{"currency": cur.Code(), "as_of": r.AsOf,
		"bank_balance": bank.String(), "ledger_balance": held.String(), "difference": r.Difference.String(), "statement_reference": statementRef})
	if err != nil {
		return Reconciliation{}, err
	}
	return r, audit.Append(ctx, s.db, ev)
}
