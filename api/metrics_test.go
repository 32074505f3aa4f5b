package api_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/crowdledger/crowdledger/api"
	"github.com/crowdledger/crowdledger/campaign"
)

// TestSchedulerMetrics: outcomes by kind, and a campaign that failed and
// is tried again counts as a retry, once per attempt.
func TestSchedulerMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := api.NewMetrics(reg)
	a, b := uuid.New(), uuid.New()
	m.SchedulerRound(campaign.TickReport{Settled: []uuid.UUID{a}, Failed: map[uuid.UUID]error{b: errors.New("x")}})
	m.SchedulerRound(campaign.TickReport{Failed: map[uuid.UUID]error{b: errors.New("x")}})
	m.SchedulerRound(campaign.TickReport{Refunded: []uuid.UUID{b}})
	m.SchedulerRound(campaign.TickReport{})
	want := `
# HELP crowdledger_scheduler_campaigns_total Campaigns the scheduler opened, settled, refunded, or failed to open or close.
# TYPE crowdledger_scheduler_campaigns_total counter
crowdledger_scheduler_campaigns_total{outcome="failed"} 2
crowdledger_scheduler_campaigns_total{outcome="opened"} 0
crowdledger_scheduler_campaigns_total{outcome="refunded"} 1
crowdledger_scheduler_campaigns_total{outcome="settled"} 1
# HELP crowdledger_scheduler_close_retries_total Campaign opens or closes attempted again after a failure.
# TYPE crowdledger_scheduler_close_retries_total counter
crowdledger_scheduler_close_retries_total 2
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "crowdledger_scheduler_campaigns_total", "crowdledger_scheduler_close_retries_total"); err != nil {
		t.Error(err)
	}
}
