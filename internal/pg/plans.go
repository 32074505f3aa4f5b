package pg

import "github.com/jackc/pgx/v5"

// The pool plans every parameterised statement afresh (force_custom_plan,
// see Connect) so that no lookup keeps a plan made while its table was
// empty. That also replans what has one plan whatever the table sizes: a
// set-based INSERT from unnest, and the foreign-key checks PostgreSQL runs
// for each inserted row, which it plans through the same cache. On the
// group-commit paths that replanning was 12% of the ledger writer's
// database CPU, and three quarters of the foreign-key checks' cost on the
// commitment writer (perf).
//
// QueueCachedPlans and QueueCustomPlans bracket such statements in a batch:
// between them the plan cache may keep a generic plan, for the rest of the
// transaction only (SET LOCAL). Queue lookups outside the bracket.

// QueueCachedPlans lets the statements queued after it keep generic plans.
func QueueCachedPlans(b *pgx.Batch) { b.Queue(`SET LOCAL plan_cache_mode = auto`) }

// QueueCustomPlans returns the transaction to the connection's own setting.
func QueueCustomPlans(b *pgx.Batch) { b.Queue(`SET LOCAL plan_cache_mode TO DEFAULT`) }
