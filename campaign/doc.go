// Package campaign is the product's main job: startups raise money in
// reward (实物众筹) and equity (股权众筹) campaigns, investors commit, and the
// campaign settles or refunds, every yuan moving as ledger transfers.
//
// # Where the money sits (资金存管)
//
// Investor money is held at a custody bank and never mixed with the
// platform's own. The ledger mirrors that: a custody account per currency
// (the bank's side), a wallet per investor, an escrow account and an issuer
// payable account per campaign, and the platform's fee revenue per
// currency. Deposits and withdrawals carry the bank's reference and are
// idempotent on it.
//
// # Lifecycle
//
//	draft → submitted → approved → live → succeeded → settled
//	               ↘ rejected          ↘ failed → refunded
//
// Approval is maker-checker: a compliance key other than the one that
// created the campaign. Live campaigns close at their deadline (a scheduler
// any number of processes may run: due campaigns are claimed with SKIP
// LOCKED), when the hard cap is reached, or when an operator closes them.
//
// # Commitments
//
// A commitment locks the campaign row, so the hard cap, tier quantities and
// the investor count are exact however many investors race for the last
// places; runs the compliance check (registry.CheckCommitment) in the same
// transaction; and reserves the money as a pending ledger transfer from the
// investor's wallet to the escrow. Cancelling in the cooling-off window voids
// it. Success posts every pending transfer and pays the escrow out to the
// issuer net of the platform fee (split with money.Allocate, so the parts
// sum to the whole); failure voids them all, restoring each wallet to the
// minor unit.
package campaign
