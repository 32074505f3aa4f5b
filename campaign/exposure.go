package campaign

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// releaseExposure takes a released equity commitment out of the running
// totals (exposures.sql in migrations 015): the investor's and the
// issuer's totals, their expired part if the commitment was already
// older than where it was moved to, and the issuer's investor count when it
// was the investor's last. The two rows are locked in key order, as the
// batch locks them.
func releaseExposure(ctx context.Context, tx pgx.Tx, c *Campaign, cm Commitment) error {
	cur := c.Target.Currency().Code()
	if _, err := tx.Exec(ctx, `SELECT 1 FROM exposures WHERE currency = $3 AND ((party_id = $1 AND side = 'I') OR (party_id = $2 AND side = 'S'))
		ORDER BY party_id, side, currency FOR UPDATE`, cm.InvestorID, c.IssuerID, cur); err != nil {
		return fmt.Errorf("lock exposures: %w", err)
	}
	if _, err := tx.Exec(ctx, `WITH gone AS (
			UPDATE issuer_investors SET commitments = commitments - 1
			WHERE issuer_id = $2 AND currency = $3 AND investor_id = $1 RETURNING commitments)
		UPDATE exposures SET total = total - $4,
			expired = expired - CASE WHEN $5 <= expired_through THEN $4 ELSE 0 END,
			investors = investors - CASE WHEN side = 'S' AND (SELECT commitments FROM gone) = 0 THEN 1 ELSE 0 END
		WHERE currency = $3 AND ((party_id = $1 AND side = 'I') OR (party_id = $2 AND side = 'S'))`,
		cm.InvestorID, c.IssuerID, cur, cm.Amount.Decimal(), cm.CreatedAt); err != nil {
		return fmt.Errorf("release exposure: %w", err)
	}
	return nil
}
