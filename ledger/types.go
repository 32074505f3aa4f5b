package ledger

import (
	"encoding/json"
	"time"

	"github.com/google/uuid"

	"github.com/crowdledger/crowdledger/internal/money"
)

// AccountCode says what an account is for. The set mirrors how a regulated
// crowdfunding platform holds money (资金存管): investor money sits at a
// custody bank, split into wallets, escrows and payables, never mixed with
// the platform's own revenue.
type AccountCode string

// Account codes.
const (
	CodeCustodyBank        AccountCode = "custody_bank"         // the bank's side: money held at the custody bank
	CodeInvestorWallet     AccountCode = "investor_wallet"      // an investor's uncommitted money
	CodeCampaignEscrow     AccountCode = "campaign_escrow"      // commitments held until a campaign settles
	CodeIssuerPayable      AccountCode = "issuer_payable"       // owed to an issuer after settlement
	CodePlatformFeeRevenue AccountCode = "platform_fee_revenue" // the platform's fees
	CodeLeadCarry          AccountCode = "lead_carry"           // a lead investor's carried interest
	CodePlatformCarry      AccountCode = "platform_carry"       // the platform's carried interest
	CodeSyndicateVehicle   AccountCode = "syndicate_vehicle"    // a syndicate's pooled vehicle
	CodeDistribution       AccountCode = "distribution"         // proceeds paid in for distribution
	CodeSuspense           AccountCode = "suspense"             // unidentified money awaiting investigation
)

var accountCodes = map[AccountCode]bool{
	CodeCustodyBank: true, CodeInvestorWallet: true, CodeCampaignEscrow: true, CodeIssuerPayable: true,
	CodePlatformFeeRevenue: true, CodeLeadCarry: true, CodePlatformCarry: true, CodeSyndicateVehicle: true,
	CodeDistribution: true, CodeSuspense: true,
}

// AccountCodes lists the known account codes.
func AccountCodes() []AccountCode {
	out := make([]AccountCode, 0, len(accountCodes))
	for c := range accountCodes {
		out = append(out, c)
	}
	return out
}

// Flags restrict an account's balances (TigerBeetle's flags of the same names).
type Flags struct {
	// DebitsMustNotExceedCredits: debits_posted + debits_pending <= credits_posted
	// (a wallet or escrow that may not be overdrawn).
	DebitsMustNotExceedCredits bool
	// CreditsMustNotExceedDebits: credits_posted + credits_pending <= debits_posted.
	CreditsMustNotExceedDebits bool
}

// Balances are an account's four running totals, each >= 0.
type Balances struct {
	DebitsPosted   money.Amount
	CreditsPosted  money.Amount
	DebitsPending  money.Amount
	CreditsPending money.Amount
}

// Account is a ledger account with its balances.
type Account struct {
	ID        uuid.UUID
	Currency  money.Currency
	Code      AccountCode
	Owner     string
	Metadata  json.RawMessage
	Flags     Flags
	ClosedAt  *time.Time
	CreatedAt time.Time
	Balances  Balances
}

// NewAccount is a request to open an account.
type NewAccount struct {
	ID             uuid.UUID // optional; generated when zero
	Currency       money.Currency
	Code           AccountCode
	Owner          string // who the account belongs to, e.g. "investor:<id>"
	Metadata       json.RawMessage
	Flags          Flags
	IdempotencyKey string
}

// Kind is what a transfer does.
type Kind string

// Transfer kinds.
const (
	KindPosted      Kind = "posted"
	KindPending     Kind = "pending"
	KindPostPending Kind = "post_pending"
	KindVoidPending Kind = "void_pending"
)

// Well-known transfer codes (business reasons). The set is open: any
// lower-case identifier is accepted, so the domain packages add their own.
const (
	ReasonReversal       = "reversal"
	ReasonPendingExpired = "pending_expired"
)

// TransferRequest is one transfer to apply.
//
// For KindPosted and KindPending, DebitAccountID, CreditAccountID, Amount
// and Currency are required (Timeout only for pending, optional). For
// KindPostPending and KindVoidPending, PendingID is required, the accounts
// and currency are taken from the pending transfer (if given they must
// match), Amount is not used, and PostAmount, whose currency is known only
// once the pending transfer is read, may post part of it. A KindPosted request with ReversesID set reverses that transfer:
// accounts and amount come from it, swapped.
type TransferRequest struct {
	Kind            Kind
	DebitAccountID  uuid.UUID
	CreditAccountID uuid.UUID
	Amount          money.Amount
	PostAmount      money.Written // post_pending only: part of the pending amount; zero posts it all
	Code            string
	Metadata        json.RawMessage
	PendingID       uuid.UUID
	ReversesID      uuid.UUID
	Timeout         time.Duration
}

// Transfer is a stored, immutable transfer.
type Transfer struct {
	ID              uuid.UUID
	Seq             int64
	EntryID         uuid.UUID
	Index           int
	Kind            Kind
	DebitAccountID  uuid.UUID
	CreditAccountID uuid.UUID
	Amount          money.Amount
	Code            string
	Metadata        json.RawMessage
	PendingID       *uuid.UUID
	ReversesID      *uuid.UUID
	ExpiresAt       *time.Time
	CreatedAt       time.Time
}

// Entry is the stored result of one request: its transfers, applied atomically.
type Entry struct {
	ID             uuid.UUID
	IdempotencyKey string
	CreatedAt      time.Time
	Transfers      []Transfer
	// Replayed is true when the entry was found under its idempotency key
	// rather than written by this call.
	Replayed bool
}

// AccountEntry is one transfer as seen from one account, with that
// account's balances right after it.
type AccountEntry struct {
	Seq        int64
	TransferID uuid.UUID
	Kind       Kind
	Side       Side
	Amount     money.Amount
	Code       string
	CreatedAt  time.Time
	Balances   Balances
}

// Side is which side of a transfer an account was on.
type Side string

// Sides.
const (
	Debit  Side = "debit"
	Credit Side = "credit"
)
