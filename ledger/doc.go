// Package ledger is crowdledger's double-entry core on PostgreSQL, after
// TigerBeetle's model of accounts and transfers.
//
// An account holds money of one currency and keeps four running balances:
// debits and credits, posted and pending. A transfer moves an amount from
// its debit account to its credit account; it is posted (money moves now),
// pending (money is reserved in the pending balances), or resolves a
// pending transfer by posting all or part of it, or voiding it. A pending
// transfer may carry a timeout, after which ExpirePending voids it.
//
// # Invariants
//
// These hold after every committed transaction, under any concurrency,
// crash or retry; Check verifies them and the test suite runs it after
// every test:
//
//  1. Per currency, the sum of all debits equals the sum of all credits,
//     posted and pending alike: every transfer adds its amount to exactly
//     one debit balance and one credit balance of the same currency.
//  2. Each account's stored balances equal the sums of its transfers, and
//     its latest account entry carries those same balances.
//  3. No account flagged debits_must_not_exceed_credits (or the converse)
//     is overdrawn; CHECK constraints in the schema make that impossible to
//     commit.
//  4. Every pending transfer is resolved (posted or voided) at most once,
//     and every transfer is reversed at most once (unique constraints).
//  5. Entries, transfers and account entries are immutable: triggers reject
//     UPDATE, DELETE and TRUNCATE for every role. A correction is a new,
//     reversing transfer linked to the original.
//
// # Idempotency
//
// Every write carries a client idempotency key. The key is bound, in the
// same transaction as the transfers, to a SHA-256 of the normalised
// request: a retry with the same request returns the original entry (same
// ids), a different request under the same key is ErrIdempotencyConflict.
// Rejected requests change nothing and do not consume their key.
//
// # Hot accounts
//
// A campaign's escrow account takes thousands of concurrent commitments.
// Holding its row lock across one commit per transfer would cap it at the
// commit rate of the disk. Instead Submit hands requests to a small pool of
// writers that group whatever is waiting into one database transaction
// (group commit, as TigerBeetle batches): lock every account involved once,
// in id order, simulate each request in memory against the locked balances
// (a failing request is dropped from the batch without touching the
// others), then write all transfers, account entries and balance updates
// with a handful of set-based statements. The database still enforces every
// invariant, so correctness never depends on in-process state: several
// processes may run writers against one database.
package ledger
