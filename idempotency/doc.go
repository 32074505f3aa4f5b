// Package idempotency is the one mechanism by which a retried command has
// its effect once: every mutating route, and the service's own scheduled
// moves that carry keys, go through it.
//
// It follows Stripe's model as Brandur Leach describes it for PostgreSQL:
// one table of (scope, key, request hash, stored response). The key is
// claimed inside the same transaction as the work and the response is
// written before that transaction commits, so a crash leaves both or
// neither; a concurrent copy waits for the first to finish and then replays
// its response; the same key with a different request is a conflict.
//
// Two ways in, one store:
//   - Do runs the work in a transaction it owns and hands that transaction
//     to the domain through the context (pg.WithTx), where pg.InTx joins it
//     instead of beginning its own. Most routes use this.
//   - Lookup and Save serve commands that go through a group-commit writer
//     (the ledger's and the commitment batcher's), whose transaction is
//     shared by many requests. There the effect itself carries the key
//     (a journal entry's or a commitment's idempotency key, unique in its
//     table), so a crash between the effect and Save leaves the effect,
//     which the retry finds and answers from; Save then stores the answer
//     once and every concurrent copy serves that one answer.
//
// The package owns the idempotency_keys table; nothing else reads it.
package idempotency
