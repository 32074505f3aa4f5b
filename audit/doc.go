// Package audit keeps crowdledger's tamper-evident audit trail.
//
// Every state-changing command appends one Event (who, what, which objects,
// which request, the facts that matter) in the same database transaction as
// the change it records: no change without its event, no event without its
// change. Events are append-only, enforced by triggers.
//
// # Hash chain without a global bottleneck
//
// Hashing each event onto the chain inside its own transaction would make
// every writer in the service wait for the one chain head: the hot path
// would be as slow as the slowest transaction holding it. So the trail is
// sequence-then-hash:
//
//  1. Writers only insert events. Each gets a sequence number and records
//     its transaction id (xid8). Nothing is locked.
//  2. A chainer (one at a time, by advisory lock; every process runs one and
//     the others skip their turn) periodically opens a REPEATABLE READ
//     transaction and takes its snapshot's xmin: every transaction below it
//     has ended, so the set of events with xid in [previous xmin, this xmin)
//     is final. It links them in sequence order into audit_chain, position
//     after position, each hash = SHA-256(previous hash || canonical bytes).
//     A whole batch costs one transaction.
//  3. Every CheckpointEvery positions, and at least daily, the chainer signs
//     the head (position, hash, time) with the platform's Ed25519 key.
//
// Verification (Verify, and the offline `crowdledger audit verify FILE`)
// recomputes the chain and checks every checkpoint signature. It detects and
// locates: an altered event (hash mismatch at its position), a deleted event
// or chain row (a dangling reference or a gap), reordered rows (mismatch),
// an inserted event (one that is final but was never chained, or that was
// chained out of time order), and a rewritten chain (the recomputed head no
// longer matches a signed checkpoint).
package audit
