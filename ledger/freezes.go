package ledger

import (
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Freezes tells the ledger which accounts a regulator's freeze order stops
// money leaving. The ledger does not read freeze orders itself: whoever
// owns them (the supervision package) passes this in, so the rule stays
// with its owner and the ledger's arrows point inward.
type Freezes interface {
	// QueueFrozen queues, into b, the read of the freeze orders in force,
	// and returns the function that, once b is read, says whether one
	// covers an account (by its id, its owner "party:<id>" and the campaign
	// it belongs to, "" if none).
	QueueFrozen(b *pgx.Batch) func(account uuid.UUID, owner, campaign string) bool
}

// NoFreezes is for a ledger that no freeze order can concern: the ledger's
// own tests and read-only tools.
type NoFreezes struct{}

// QueueFrozen queues nothing; nothing is frozen.
func (NoFreezes) QueueFrozen(*pgx.Batch) func(uuid.UUID, string, string) bool {
	return func(uuid.UUID, string, string) bool { return false }
}
