package campaign_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"

	"github.com/crowdledger/crowdledger/campaign"
	"github.com/crowdledger/crowdledger/compliance"
)

// TestBatchedAgreesWithOneAtATime drives the same random sequence of
// commitments, cancellations and closes through two services on two
// databases: one applies each run of consecutive commitments as a single
// batch (in order), the other applies every commitment alone. Every answer
// and the final state must be the same. The sequences mix what makes
// earlier commitments change later ones' fate: a tier running out, the hard
// cap, a follower before the lead, an unqualified investor, an investor's
// small wallet, repeated keys with the same or another request, a top-up by
// a follower already in a vehicle, cancellation in the cooling-off window,
// and closing the campaign.
func TestBatchedAgreesWithOneAtATime(t *testing.T) {
	t.Parallel()
	for seed := uint64(1); seed <= 10; seed++ {
		t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) {
			t.Parallel()
			ops := randomOps(rand.New(rand.NewPCG(seed, seed*7919)), 60)
			batched, alone := newPropWorld(t), newPropWorld(t)
			a := batched.play(ops, true)
			b := alone.play(ops, false)
			for i := range ops {
				if a[i] != b[i] {
					t.Errorf("op %d (%s): batched %q, alone %q", i, ops[i], a[i], b[i])
				}
			}
			if sa, sb := batched.state(), alone.state(); sa != sb {
				t.Errorf("final state differs:\nbatched %s\nalone   %s", sa, sb)
			}
		})
	}
}

type propOp struct {
	kind     string // commit, cancel, close
	campaign int    // 0 reward, 1 equity
	investor int
	tier     string
	qty      int
	shares   int64
	key      string
	nth      int // cancel: which earlier accepted commitment
}

func (o propOp) String() string {
	switch o.kind {
	case "commit":
		return fmt.Sprintf("commit c%d i%d %s×%d shares %d key %s", o.campaign, o.investor, o.tier, o.qty, o.shares, o.key)
	case "cancel":
		return fmt.Sprintf("cancel #%d", o.nth)
	}
	return fmt.Sprintf("close c%d", o.campaign)
}

const propInvestors = 8

func randomOps(r *rand.Rand, n int) []propOp {
	var ops []propOp
	keys := 0
	for len(ops) < n {
		switch x := r.IntN(100); {
		case x < 80:
			op := propOp{kind: "commit", campaign: r.IntN(2), investor: r.IntN(propInvestors)}
			if op.campaign == 0 {
				op.tier = []string{"box", "box", "gift", "nope"}[r.IntN(4)]
				op.qty = 1 + r.IntN(3)
			} else {
				op.shares = []int64{5, 10, 20, 40}[r.IntN(4)]
			}
			// A fifth repeat an earlier key: the same request again, or another.
			if keys > 0 && r.IntN(5) == 0 {
				op.key = fmt.Sprint("k", r.IntN(keys))
			} else {
				op.key = fmt.Sprint("k", keys)
				keys++
			}
			ops = append(ops, op)
		case x < 95:
			ops = append(ops, propOp{kind: "cancel", nth: r.IntN(20)})
		default:
			ops = append(ops, propOp{kind: "close", campaign: r.IntN(2)})
		}
	}
	return ops
}

type propWorld struct {
	*world
	campaigns [2]campaign.Campaign
	investors []uuid.UUID
	accepted  []campaign.Commitment
	sent      map[string]campaign.CommitRequest
}

// newPropWorld: a reward campaign (a box tier of 6, a gift tier, a hard cap
// of 600.00) and an equity campaign (a lead, price 10.00, hard cap
// 1,500.00, minimum ticket 50.00) of one issuer; eight investors, the lead
// first, the fifth unqualified, the seventh with 150.00 only.
func newPropWorld(t *testing.T) *propWorld {
	w := &propWorld{world: newWorld(t), sent: map[string]campaign.CommitRequest{}}
	iss := w.issuer()
	for i := 0; i < propInvestors; i++ {
		prof, deposit := rich(), cny("2000.00")
		if i == 4 {
			prof = compliance.Profile{FinancialAssets: decimal.NewFromInt(50000), RiskAnswers: []int{4, 4, 4, 4, 4}}
		}
		if i == 6 {
			deposit = cny("150.00")
		}
		w.investors = append(w.investors, w.investor("CN-2015", prof, deposit))
	}
	w.campaigns[0] = w.launch(campaign.NewCampaign{IssuerID: iss, Kind: "reward", Pack: "CN-2015", Title: "prop reward", RiskLevel: 1,
		Target: cny("300.00"), HardCap: cny("600.00"), FeeRate: decimal.Zero,
		Tiers: []campaign.Tier{{ID: "box", Title: "box", Price: cny("25.00"), QuantityLimit: intp(6)}, {ID: "gift", Title: "gift", Price: cny("40.00")}}})
	w.campaigns[1] = w.launch(campaign.NewCampaign{IssuerID: iss, Kind: "equity", Pack: "CN-2015", Title: "prop equity",
		Target: cny("1000.00"), HardCap: cny("1500.00"), MinTicket: cny("50.00"), PricePerShare: cny("10.00"),
		FeeRate: decimal.Zero, LeadInvestorID: w.investors[0], LeadMinShare: decimal.RequireFromString("0.1")})
	return w
}

// play applies ops and returns a normalised answer for each: what a client
// could see, with ids replaced by the investor's and the vehicle's place.
func (w *propWorld) play(ops []propOp, batched bool) []string {
	ctx := context.Background()
	answers := make([]string, len(ops))
	for i := 0; i < len(ops); {
		if ops[i].kind != "commit" {
			answers[i] = w.other(ctx, ops[i])
			i++
			continue
		}
		j := i
		for j < len(ops) && ops[j].kind == "commit" {
			j++
		}
		var reqs []campaign.CommitRequest
		for _, op := range ops[i:j] {
			reqs = append(reqs, w.request(op))
		}
		var outs []campaign.Commitment
		var errs []error
		if batched {
			outs, errs = w.svc.CommitAsOneBatch(ctx, reqs)
		} else {
			for _, r := range reqs {
				o, e := w.svc.CommitAsOneBatch(ctx, []campaign.CommitRequest{r})
				outs, errs = append(outs, o[0]), append(errs, e[0])
			}
		}
		for k := range reqs {
			answers[i+k] = w.normalise(outs[k], errs[k])
			if errs[k] == nil && !outs[k].Replayed {
				w.accepted = append(w.accepted, outs[k])
			}
		}
		i = j
	}
	return answers
}

// request builds a commitment; a repeated key carries the first request
// with it, or, every other time, a different one (a conflict).
func (w *propWorld) request(op propOp) campaign.CommitRequest {
	r := campaign.CommitRequest{CampaignID: w.campaigns[op.campaign].ID, InvestorID: w.investors[op.investor], Tier: op.tier,
		Quantity: op.qty, Shares: op.shares, IdempotencyKey: op.key, RiskDisclosure: cnAck}
	if prev, ok := w.sent[op.key]; ok && op.investor%2 == 0 {
		return prev
	}
	if _, ok := w.sent[op.key]; !ok {
		w.sent[op.key] = r
	}
	return r
}

func (w *propWorld) other(ctx context.Context, op propOp) string {
	switch op.kind {
	case "cancel":
		if op.nth >= len(w.accepted) {
			return "nothing to cancel"
		}
		cm := w.accepted[op.nth]
		_, err := w.svc.Cancel(ctx, cm.ID, cm.InvestorID)
		return errText(err)
	default:
		c, err := w.svc.Close(w.opsCtx, w.campaigns[op.campaign].ID, true)
		return errText(err) + " " + c.State
	}
}

func (w *propWorld) place(id uuid.UUID) string {
	for i, inv := range w.investors {
		if inv == id {
			return fmt.Sprint("i", i)
		}
	}
	return "?"
}

func (w *propWorld) normalise(cm campaign.Commitment, err error) string {
	if err != nil {
		return errText(err)
	}
	veh := ""
	if cm.VehicleID != nil {
		veh = w.vehicleSeq(*cm.VehicleID)
	}
	return fmt.Sprintf("%s %s %s %s veh %s replayed %v", w.place(cm.InvestorID), cm.Role, cm.Amount, cm.State, veh, cm.Replayed)
}

func (w *propWorld) vehicleSeq(id uuid.UUID) string {
	var seq int
	w.db.Pool.QueryRow(context.Background(), `SELECT seq FROM syndicate_vehicles WHERE id = $1`, id).Scan(&seq)
	return fmt.Sprint(seq)
}

// errText is an error as a client tells errors apart: its kind and text,
// with ids and instants taken out (the two runs' clocks differ by the
// milliseconds their batches take).
func errText(err error) string {
	if err == nil {
		return "ok"
	}
	var refusal *compliance.Refusal
	if errors.As(err, &refusal) {
		var ids []string
		for _, r := range refusal.Reasons {
			ids = append(ids, r.RuleID)
		}
		return "refused " + strings.Join(ids, ",")
	}
	return timePattern.ReplaceAllString(uuidPattern.ReplaceAllString(err.Error(), "<id>"), "<time>")
}

var (
	uuidPattern = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)
	timePattern = regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z`)
)

// state is everything the two runs must agree on at the end.
func (w *propWorld) state() string {
	ctx := context.Background()
	var b strings.Builder
	for _, c := range w.campaigns {
		got, err := w.svc.Get(ctx, c.ID)
		if err != nil {
			return err.Error()
		}
		fmt.Fprintf(&b, "[%s %s committed %s investors %d milestones %v tiers", got.Kind, got.State, got.Committed, got.Investors, got.Milestones)
		for _, t := range got.Tiers {
			fmt.Fprintf(&b, " %s:%d", t.ID, t.Sold)
		}
		fmt.Fprintf(&b, " escrow %s] ", w.balance(got.EscrowAccountID))
		var vehicles string
		w.db.Pool.QueryRow(ctx, `SELECT coalesce(string_agg(seq || ':' || partners, ',' ORDER BY seq), '') FROM syndicate_vehicles WHERE campaign_id = $1`, c.ID).Scan(&vehicles)
		fmt.Fprintf(&b, "vehicles %s ", vehicles)
	}
	for i, inv := range w.investors {
		fmt.Fprintf(&b, "i%d %s ", i, w.balance(w.wallet(inv)))
		var exp string
		w.db.Pool.QueryRow(ctx, `SELECT coalesce(string_agg(side || ':' || total || ':' || expired, ','), '') FROM exposures WHERE party_id = $1`, inv).Scan(&exp)
		b.WriteString(exp + " ")
	}
	var issuer string
	w.db.Pool.QueryRow(ctx, `SELECT coalesce(string_agg(side || ':' || total || ':' || investors, ','), '') FROM exposures WHERE side = 'S'`).Scan(&issuer)
	b.WriteString("issuer " + issuer)
	return b.String()
}
