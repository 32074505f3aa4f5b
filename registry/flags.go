package registry

import (
	"time"

	"github.com/google/uuid"
)

// ReviewFlag is an open commitment of a party blacklisted while it was
// open, for compliance staff to review (and regulators to see).
type ReviewFlag struct {
	ID         uuid.UUID `json:"id"`
	PartyID    uuid.UUID `json:"party_id"`
	TransferID uuid.UUID `json:"transfer_id"`
	Reason     string    `json:"reason"`
	ListEntry  uuid.UUID `json:"list_entry_id"`
	CreatedAt  time.Time `json:"created_at"`
}
