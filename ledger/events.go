package ledger

import (
	"github.com/crowdledger/crowdledger/audit"
)

// Recording says who appends an entry's audit event.
type Recording bool

const (
	// LedgerRecords: the ledger appends "ledger.entry.post" for the entry.
	LedgerRecords Recording = false
	// CallerRecords: the command that moves the money appends its own
	// event in the same transaction, naming the entry and its transfers (a
	// commitment's "campaign.commit" names its pending transfer), so the
	// command is recorded once, not twice.
	CallerRecords Recording = true
)

type transferFacts struct {
	ID         string `json:"id"`
	Kind       Kind   `json:"kind"`
	Debit      string `json:"debit_account_id"`
	Credit     string `json:"credit_account_id"`
	Amount     string `json:"amount"`
	Currency   string `json:"currency"`
	Code       string `json:"code"`
	PendingID  string `json:"pending_id,omitempty"`
	ReversesID string `json:"reverses_id,omitempty"`
}

// entryEvent is the audit record of a committed entry: who posted it under
// which key, and every transfer with its amount.
func entryEvent(r *request) (audit.Event, error) {
	ids := make([]string, 0, 1+len(r.entry.Transfers))
	ids = append(ids, r.entry.ID.String())
	facts := struct {
		EntryID        string          `json:"entry_id"`
		IdempotencyKey string          `json:"idempotency_key"`
		Transfers      []transferFacts `json:"transfers"`
	}{EntryID: r.entry.ID.String(), IdempotencyKey: r.key, Transfers: make([]transferFacts, 0, len(r.entry.Transfers))}
	for _, t := range r.entry.Transfers {
		ids = append(ids, t.ID.String())
		f := transferFacts{ID: t.ID.String(), Kind: t.Kind, Debit: t.DebitAccountID.String(), Credit: t.CreditAccountID.String(),
			Amount: t.Amount.String(), Currency: t.Amount.Currency().Code(), Code: t.Code}
		if t.PendingID != nil {
			f.PendingID = t.PendingID.String()
		}
		if t.ReversesID != nil {
			f.ReversesID = t.ReversesID.String()
		}
		facts.Transfers = append(facts.Transfers, f)
	}
	return audit.New(r.ctx, "ledger.entry.post", ids, facts)
}
