package campaign_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"

	"github.com/crowdledger/crowdledger/audit"
	"github.com/crowdledger/crowdledger/campaign"
	"github.com/crowdledger/crowdledger/compliance"
	"github.com/crowdledger/crowdledger/internal/money"
	"github.com/crowdledger/crowdledger/internal/pgtest"
	"github.com/crowdledger/crowdledger/internal/pii"
	"github.com/crowdledger/crowdledger/ledger"
	"github.com/crowdledger/crowdledger/registry"
	"github.com/crowdledger/crowdledger/supervision"
)

type world struct {
	t                                *testing.T
	db                               *pgtest.DB
	ledger                           *ledger.Ledger
	reg                              *registry.Registry
	svc                              *campaign.Service
	clock                            atomic.Pointer[time.Time]
	issuerCtx, complianceCtx, opsCtx context.Context
	n                                atomic.Int64
}

func newWorld(t *testing.T) *world {
	t.Helper()
	db := pgtest.NewDB(t)
	keys, _ := pii.ParseKeyring("k1:"+pii.NewKey(), pii.NewKey())
	w := &world{t: t, db: db, ledger: ledger.New(db.Pool, ledger.Options{Freezes: supervision.New(db.Pool)}), reg: registry.New(db.Pool, keys)}
	w.svc = campaign.New(db.Pool, w.ledger, w.reg)
	now := time.Now().UTC()
	w.clock.Store(&now)
	w.svc.Now = func() time.Time { return *w.clock.Load() }
	w.reg.Now = w.svc.Now
	w.issuerCtx = audit.WithActor(context.Background(), audit.Actor{KeyID: uuid.New(), Role: "issuer"}, "t")
	w.complianceCtx = audit.WithActor(context.Background(), audit.Actor{KeyID: uuid.New(), Role: "compliance"}, "t")
	w.opsCtx = audit.WithActor(context.Background(), audit.Actor{KeyID: uuid.New(), Role: "operator"}, "t")
	// Every test runs with group commit on, as the service does.
	w.svc.StartBatching(64)
	t.Cleanup(func() {
		w.svc.StopBatching()
		w.ledger.Close()
		vs, err := w.ledger.Check(context.Background())
		if err != nil {
			t.Errorf("check: %v", err)
		}
		for _, v := range vs {
			t.Errorf("invariant broken: %s", v)
		}
		assertRecorded(t, db)
		assertExposures(t, db)
	})
	return w
}

// assertRecorded: no change without its audit event. Every transfer is
// named by an event, and a commitment's pending transfer by exactly one
// (campaign.commit: the ledger records none of its own for it).
func assertRecorded(t *testing.T, db *pgtest.DB) {
	t.Helper()
	rows, err := db.Pool.Query(context.Background(), `SELECT t.id, t.code, count(e.seq)
		FROM transfers t LEFT JOIN audit_events e ON t.id::text = ANY(e.object_ids)
		GROUP BY t.id, t.code
		HAVING count(e.seq) = 0 OR (t.code = 'commitment' AND count(e.seq) <> 1)`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var id uuid.UUID
		var code string
		var n int
		if err := rows.Scan(&id, &code, &n); err != nil {
			t.Fatal(err)
		}
		t.Errorf("transfer %s (%s) is named by %d audit events", id, code, n)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
}

func (w *world) advance(d time.Duration) {
	t := w.clock.Load().Add(d)
	w.clock.Store(&t)
}

func residentID(n int64) string {
	s := fmt.Sprintf("6301021985%02d%02d%03d", 1+n%12, 1+n%28, n%1000)
	return s + string(compliance.ResidentIDCheck(s))
}

// investor registers, verifies and (unless pack is "") qualifies an investor and deposits into their wallet.
func (w *world) investor(pack string, prof compliance.Profile, deposit money.Amount) uuid.UUID {
	w.t.Helper()
	n := w.n.Add(1)
	p, err := w.reg.CreateParty(w.complianceCtx, registry.NewParty{Role: "investor", Entity: compliance.Individual, Jurisdiction: "CN",
		Name: fmt.Sprint("投资人", n), DocType: compliance.PRCResidentID, DocNumber: residentID(n)})
	if err != nil {
		w.t.Fatal(err)
	}
	if _, err := w.reg.SetVerification(w.complianceCtx, p.ID, registry.StatusVerified, "video-kyc", ""); err != nil {
		w.t.Fatal(err)
	}
	if pack != "" {
		if prof.Entity == "" {
			prof.Entity = compliance.Individual
		}
		w.qualify(p.ID, pack, prof)
	}
	if !deposit.IsZero() {
		if _, err := w.svc.Deposit(w.opsCtx, p.ID, deposit, fmt.Sprint("ICBC-", n)); err != nil {
			w.t.Fatal(err)
		}
	}
	return p.ID
}

func (w *world) issuer() uuid.UUID {
	w.t.Helper()
	n := w.n.Add(1)
	p, err := w.reg.CreateParty(w.complianceCtx, registry.NewParty{Role: "issuer", Entity: compliance.Institution, Jurisdiction: "CN",
		Name: fmt.Sprint("青海高原青稞科技有限公司", n), DocType: compliance.OtherDocument, DocNumber: fmt.Sprintf("ISSUER-%06d", n)})
	if err != nil {
		w.t.Fatal(err)
	}
	if _, err := w.reg.SetVerification(w.complianceCtx, p.ID, registry.StatusVerified, "business licence check", ""); err != nil {
		w.t.Fatal(err)
	}
	return p.ID
}

// launch creates, submits and approves a campaign, which goes live at once.
func (w *world) launch(in campaign.NewCampaign) campaign.Campaign {
	w.t.Helper()
	if in.StartsAt.IsZero() {
		in.StartsAt = w.svc.Now().Add(-time.Minute)
	}
	if in.Deadline.IsZero() {
		in.Deadline = w.svc.Now().Add(30 * 24 * time.Hour)
	}
	c, err := w.svc.Create(w.issuerCtx, in)
	if err != nil {
		w.t.Fatal(err)
	}
	if _, err := w.svc.Submit(w.issuerCtx, c.ID, []campaign.Disclosure{{Title: "商业计划书", Kind: "business_plan", DocumentHash: fmt.Sprintf("%064x", 1)}}); err != nil {
		w.t.Fatal(err)
	}
	if c, err = w.svc.Approve(w.complianceCtx, c.ID); err != nil {
		w.t.Fatal(err)
	}
	if c.State != campaign.Live {
		w.t.Fatalf("campaign is %s after approval", c.State)
	}
	return c
}

func cny(s string) money.Amount {
	a, err := money.ParseSigned("CNY", s)
	if err != nil {
		panic(err)
	}
	return a
}

func (w *world) balance(acct uuid.UUID) string {
	w.t.Helper()
	a, err := w.ledger.Account(context.Background(), acct)
	if err != nil {
		w.t.Fatal(err)
	}
	net := a.Balances.CreditsPosted.Decimal().Sub(a.Balances.DebitsPosted.Decimal()).Sub(a.Balances.DebitsPending.Decimal())
	return net.StringFixed(a.Currency.Scale())
}

func (w *world) wallet(party uuid.UUID) uuid.UUID {
	id, err := w.svc.Wallet(context.Background(), party, money.MustLookup("CNY"))
	if err != nil {
		w.t.Fatal(err)
	}
	return id
}

func rich() compliance.Profile {
	return compliance.Profile{FinancialAssets: decimal.NewFromInt(2000000), RiskAnswers: []int{4, 4, 4, 4, 4}, InvestmentYears: 5, Exits: 2}
}

func intp(n int) *int { return &n }

// assertExposures: the running totals agree with the commitments they sum.
// For every party, side and currency: total is the live and settled equity
// commitments, expired the part of them made at or before expired_through,
// an issuer's investors the distinct investors among them, and
// issuer_investors each investor's number of them.
func assertExposures(t *testing.T, db *pgtest.DB) {
	t.Helper()
	rows, err := db.Pool.Query(context.Background(), `
		WITH m AS (
			SELECT m.investor_id, k.issuer_id, k.currency, m.amount, m.created_at FROM commitments m JOIN campaigns k ON k.id = m.campaign_id
			WHERE k.kind = 'equity' AND m.state IN ('live', 'settled')),
		sums AS (
			SELECT investor_id AS party, 'I'::"char" AS side, currency, sum(amount) AS total, 0 AS investors FROM m GROUP BY 1, 3
			UNION ALL
			SELECT issuer_id, 'S', currency, sum(amount), count(DISTINCT investor_id) FROM m GROUP BY 1, 3)
		SELECT coalesce(e.party_id, s.party)::text, coalesce(e.side, s.side)::text, coalesce(e.total, 0)::text, coalesce(s.total, 0)::text,
			coalesce(e.investors, 0), coalesce(s.investors, 0), coalesce(e.expired, 0)::text,
			coalesce((SELECT sum(amount) FROM m WHERE m.currency = e.currency AND m.created_at <= e.expired_through
				AND ((e.side = 'I' AND m.investor_id = e.party_id) OR (e.side = 'S' AND m.issuer_id = e.party_id))), 0)::text
		FROM exposures e FULL JOIN sums s ON s.party = e.party_id AND s.side = e.side AND s.currency = e.currency`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var party, side, total, want, expired, wantExpired string
		var investors, wantInvestors int
		if err := rows.Scan(&party, &side, &total, &want, &investors, &wantInvestors, &expired, &wantExpired); err != nil {
			t.Fatal(err)
		}
		if !decimal.RequireFromString(total).Equal(decimal.RequireFromString(want)) || investors != wantInvestors ||
			!decimal.RequireFromString(expired).Equal(decimal.RequireFromString(wantExpired)) {
			t.Errorf("exposure %s/%s: total %s investors %d expired %s; the commitments say %s, %d, %s",
				party, side, total, investors, expired, want, wantInvestors, wantExpired)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	var bad int
	if err := db.Pool.QueryRow(context.Background(), `SELECT count(*) FROM issuer_investors i FULL JOIN (
			SELECT k.issuer_id, k.currency, m.investor_id, count(*) AS n FROM commitments m JOIN campaigns k ON k.id = m.campaign_id
			WHERE k.kind = 'equity' AND m.state IN ('live', 'settled') GROUP BY 1, 2, 3) c
		ON c.issuer_id = i.issuer_id AND c.currency = i.currency AND c.investor_id = i.investor_id
		WHERE coalesce(i.commitments, 0) <> coalesce(c.n, 0)`).Scan(&bad); err != nil {
		t.Fatal(err)
	}
	if bad > 0 {
		t.Errorf("%d issuer_investors rows disagree with the commitments", bad)
	}
}

// cnAck is the SHA-256 of the CN packs' risk disclosure letter, which
// every CN equity commitment acknowledges.
var cnAck = func() string {
	p, err := compliance.Pack("CN-2015", time.Now())
	if err != nil || p.RiskDisclosure == nil {
		panic(fmt.Sprintf("CN-2015 risk disclosure: %v", err))
	}
	return p.RiskDisclosure.SHA256()
}()

// reviewerCtx is a second compliance officer, who approves what the first
// assessed (maker-checker).
var reviewerCtx = audit.WithActor(context.Background(), audit.Actor{KeyID: uuid.New(), Role: "compliance", Subject: "reviewer"}, "t")

// qualify assesses an investor under pack and has a second officer approve
// the decision with evidence, as it must be before it counts.
func (w *world) qualify(party uuid.UUID, pack string, prof compliance.Profile) {
	w.t.Helper()
	q, err := w.reg.Qualify(w.complianceCtx, party, pack, prof)
	if err != nil {
		w.t.Fatal(err)
	}
	if _, err := w.reg.ApproveQualification(reviewerCtx, q.ID, []registry.Evidence{{Kind: "bank statement", DocumentHash: fmt.Sprintf("%064x", 7)}}); err != nil {
		w.t.Fatal(err)
	}
}
