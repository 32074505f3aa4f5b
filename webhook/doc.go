// Package webhook delivers the event feed to subscribers' URLs.
//
// A subscription names a URL, the event types it wants (none: all) and is
// owned by the API key's role and subject that made it; it receives what
// its owner could read from the feed (audit.FeedScope.Sees), from the
// moment it was made.
//
// Delivery is at least once and survives a crash of the service: the
// dispatcher reads the audit chain after its cursor and, in one
// transaction, enqueues one River job per (event, subscription) and moves
// the cursor, so an event is enqueued exactly once. River then works the
// job: a POST signed in the Standard Webhooks format (webhook-id,
// webhook-timestamp, webhook-signature: v1, HMAC-SHA256), retried with
// exponential backoff and jitter for more than a day (Backoff, MaxAttempts),
// after which the job is discarded: the dead letters, which the owner lists
// and redelivers by hand. A receiver deduplicates by webhook-id (the
// event's id), which every retry and redelivery keeps.
//
// River (riverqueue/river) is the queue because it runs on the pgx pool the
// service already has and inserts jobs inside the caller's transaction:
// the guarantee above needs exactly that, and a hand-rolled polling loop
// with its own retry bookkeeping would be a second, weaker copy of it.
package webhook
