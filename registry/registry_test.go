package registry_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"

	"github.com/crowdledger/crowdledger/audit"
	"github.com/crowdledger/crowdledger/campaign"
	"github.com/crowdledger/crowdledger/compliance"
	"github.com/crowdledger/crowdledger/internal/money"
	"github.com/crowdledger/crowdledger/internal/page"
	"github.com/crowdledger/crowdledger/internal/pgtest"
	"github.com/crowdledger/crowdledger/internal/pii"
	"github.com/crowdledger/crowdledger/ledger"
	"github.com/crowdledger/crowdledger/registry"
)

type fixture struct {
	t         *testing.T
	db        *pgtest.DB
	reg       *registry.Registry
	ledger    *ledger.Ledger
	campaigns *campaign.Service // its Check: the facts and rules a commitment meets
	ctx       context.Context
	bank      uuid.UUID
	n         int
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	db := pgtest.NewDB(t)
	keys, err := pii.ParseKeyring("k1:"+pii.NewKey(), pii.NewKey())
	if err != nil {
		t.Fatal(err)
	}
	l := ledger.New(db.Pool, ledger.Options{Freezes: ledger.NoFreezes{}})
	t.Cleanup(l.Close)
	reg := registry.New(db.Pool, keys)
	f := &fixture{t: t, db: db, reg: reg, ledger: l, campaigns: campaign.New(db.Pool, l, reg),
		ctx: audit.WithActor(context.Background(), audit.Actor{KeyID: uuid.New(), Role: "compliance"}, "test")}
	a, _, err := l.CreateAccount(f.ctx, ledger.NewAccount{Currency: money.MustLookup("USD"), Code: ledger.CodeCustodyBank, IdempotencyKey: "bank"})
	if err != nil {
		t.Fatal(err)
	}
	f.bank = a.ID
	return f
}

// residentID makes a valid PRC resident identity number from a counter.
func residentID(n int) string {
	s := fmt.Sprintf("630102199001%02d%03d", 1+n%28, n%1000)
	return s + string(compliance.ResidentIDCheck(s))
}

func (f *fixture) party(role string, verified bool) uuid.UUID {
	f.t.Helper()
	f.n++
	in := registry.NewParty{Role: role, Entity: compliance.Individual, Jurisdiction: "CN", Name: "张三丰", DocType: compliance.PRCResidentID,
		DocNumber: residentID(f.n)}
	if role == "issuer" {
		in.Entity, in.DocType, in.Name = compliance.Institution, compliance.OtherDocument, "青海高原青稞有限公司"
		in.DocNumber = fmt.Sprintf("ORG-%06d", f.n)
	}
	p, err := f.reg.CreateParty(f.ctx, in)
	if err != nil {
		f.t.Fatal(err)
	}
	if verified {
		if _, err := f.reg.SetVerification(f.ctx, p.ID, registry.StatusVerified, "video-kyc", ""); err != nil {
			f.t.Fatal(err)
		}
	}
	return p.ID
}

func (f *fixture) account(owner uuid.UUID, code ledger.AccountCode, fund string) uuid.UUID {
	f.t.Helper()
	a, _, err := f.ledger.CreateAccount(f.ctx, ledger.NewAccount{Currency: money.MustLookup("USD"), Code: code, Owner: registry.Owner(owner),
		Flags: ledger.Flags{DebitsMustNotExceedCredits: code == ledger.CodeInvestorWallet}, IdempotencyKey: uuid.NewString()})
	if err != nil {
		f.t.Fatal(err)
	}
	if fund != "" {
		amt, _ := money.Parse("USD", fund)
		if _, err := f.ledger.Submit(f.ctx, uuid.NewString(), []ledger.TransferRequest{{Kind: ledger.KindPosted, DebitAccountID: f.bank,
			CreditAccountID: a.ID, Amount: amt, Code: "deposit"}}); err != nil {
			f.t.Fatal(err)
		}
	}
	return a.ID
}

// commit runs the check and, if allowed, the pending commitment, in one transaction.
// commit checks a commitment as a campaign would (campaign.Check) and, if
// it is allowed, reserves the money as a commitment's pending transfer.
func (f *fixture) commit(req campaign.CheckRequest, wallet, escrow uuid.UUID) (compliance.Result, error) {
	res, err := f.campaigns.Check(f.ctx, req)
	if err != nil || !res.Allowed {
		return res, err
	}
	_, err = f.ledger.Submit(f.ctx, uuid.NewString(), []ledger.TransferRequest{{Kind: ledger.KindPending, DebitAccountID: wallet,
		CreditAccountID: escrow, Amount: req.Amount, Code: "commitment"}})
	return res, err
}

func usd(s string) money.Amount { a, _ := money.Parse("USD", s); return a }

func TestPartiesAreEncryptedMaskedAndRevealedOnRecord(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	doc := residentID(77)
	p, err := f.reg.CreateParty(f.ctx, registry.NewParty{Role: "investor", Entity: compliance.Individual, Jurisdiction: "CN",
		Name: "李四", DocType: compliance.PRCResidentID, DocNumber: doc})
	if err != nil {
		t.Fatal(err)
	}
	if p.DocMasked != doc[:1]+strings.Repeat("*", 16)+doc[17:] || p.NameMasked != "李*" || p.DocNumber != "" || p.Name != "" || p.Status != "pending" {
		t.Fatalf("party = %+v", p)
	}
	// At rest: neither the number nor the name appears in the row's bytes.
	var row []byte
	if err := f.db.Pool.QueryRow(f.ctx, `SELECT convert_to(p::text, 'UTF8') FROM parties p WHERE id = $1`, p.ID).Scan(&row); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(row, []byte(doc)) || bytes.Contains(row, []byte("李四")) {
		t.Fatalf("personal data stored in clear: %s", row)
	}
	// Nor an unkeyed digest of them (the row once held SHA-256 over role,
	// entity, jurisdiction, name and document: recoverable by guessing).
	digest := sha256.Sum256([]byte(fmt.Sprintf("%s\x00%s\x00%s\x00%s\x00%s\x00%s", "investor", compliance.Individual, "CN", "李四", compliance.PRCResidentID, doc)))
	if bytes.Contains(row, []byte(hex.EncodeToString(digest[:]))) {
		t.Fatalf("an unkeyed digest of personal data is stored: %s", row)
	}
	// The same document again, however sent: refused (a client's retry is
	// answered by the idempotency mechanism before the registry).
	if _, err := f.reg.CreateParty(f.ctx, registry.NewParty{Role: "investor", Entity: compliance.Individual, Jurisdiction: "CN",
		Name: "王五", DocType: compliance.PRCResidentID, DocNumber: doc}); !errors.Is(err, registry.ErrDuplicateParty) {
		t.Fatalf("duplicate document: %v", err)
	}
	bad := doc[:17] + string("0123456789X"[(stringsIndex(doc[17])+1)%11])
	var fe *registry.FieldError
	if _, err := f.reg.CreateParty(f.ctx, registry.NewParty{Role: "investor", Entity: compliance.Individual, Jurisdiction: "CN",
		Name: "赵六", DocType: compliance.PRCResidentID, DocNumber: bad}); !errors.As(err, &fe) || fe.Field != "document.number" || !errors.Is(err, compliance.ErrDocumentCheckDigit) {
		t.Fatalf("wrong check digit: %v", err)
	}
	// Reveal needs a reason and leaves a record.
	if _, err := f.reg.Reveal(f.ctx, p.ID, ""); !errors.As(err, &fe) {
		t.Fatalf("reveal without reason: %v", err)
	}
	full, err := f.reg.Reveal(f.ctx, p.ID, "dispute 2026-118 needs the full name")
	if err != nil || full.DocNumber != doc || full.Name != "李四" {
		t.Fatalf("reveal = %+v, %v", full, err)
	}
	var views int
	f.db.Pool.QueryRow(f.ctx, `SELECT count(*) FROM audit_events WHERE action = 'registry.pii.view' AND $1 = ANY(object_ids) AND actor_role = 'compliance'`, p.ID.String()).Scan(&views)
	if views != 1 {
		t.Errorf("%d recorded views, want 1", views)
	}
	var leaked int
	f.db.Pool.QueryRow(f.ctx, `SELECT count(*) FROM audit_events WHERE facts::text LIKE '%' || $1 || '%' OR facts::text LIKE '%李四%'`, doc).Scan(&leaked)
	if leaked != 0 {
		t.Errorf("%d audit events carry personal data in clear", leaked)
	}
	v, err := f.reg.SetVerification(f.ctx, p.ID, registry.StatusVerified, "bank-card 4-factor", "")
	if err != nil || v.Status != "verified" || v.StatusBy == nil || v.StatusAt == nil || *v.StatusMethod != "bank-card 4-factor" {
		t.Fatalf("verify = %+v, %v", v, err)
	}
	if _, err := f.reg.SetVerification(f.ctx, p.ID, registry.StatusRejected, "", ""); !errors.As(err, &fe) || fe.Field != "reason" {
		t.Fatalf("reject without reason: %v", err)
	}
}

func stringsIndex(b byte) int {
	if b == 'X' {
		return 10
	}
	return int(b - '0')
}

// TestBlacklistBlocksAndFlags: a document blacklisted before its owner
// registers still blocks them; lifting the entry unblocks; blacklisting a
// party with an open commitment flags it for review.
func TestBlacklistBlocksAndFlags(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	iss := f.party("issuer", true)
	escrow := f.account(iss, ledger.CodeCampaignEscrow, "")
	doc := residentID(500)
	entry, err := f.reg.AddListEntry(f.ctx, registry.NewListEntry{List: registry.Black, DocType: compliance.PRCResidentID, DocNumber: doc,
		Reason: "失信被执行人", Authority: "最高人民法院"})
	if err != nil || entry.DocMasked == nil || *entry.DocMasked != doc[:1]+strings.Repeat("*", 16)+doc[17:] {
		t.Fatalf("add = %+v, %v", entry, err)
	}
	p, err := f.reg.CreateParty(f.ctx, registry.NewParty{Role: "investor", Entity: compliance.Individual, Jurisdiction: "CN", Name: "钱七",
		DocType: compliance.PRCResidentID, DocNumber: doc})
	if err != nil {
		t.Fatal(err)
	}
	f.reg.SetVerification(f.ctx, p.ID, registry.StatusVerified, "video-kyc", "")
	f.qualify(p.ID, "US-REGCF", compliance.Profile{Entity: compliance.Individual, AnnualIncome: decimal.NewFromInt(30000), RiskAnswers: []int{4, 4, 4, 4, 4}})
	wallet := f.account(p.ID, ledger.CodeInvestorWallet, "1000.00")
	req := campaign.CheckRequest{InvestorID: p.ID, IssuerID: iss, Pack: "US-REGCF", CampaignRisk: 3, Amount: usd("100.00")}
	res, err := f.commit(req, wallet, escrow)
	if err != nil || res.Allowed || res.Refusals[0].RuleID != "LIST/investor-blacklisted" {
		t.Fatalf("blacklisted investor: %+v, %v", res, err)
	}
	if _, err := f.reg.EndListEntry(f.ctx, entry.ID, "paid in full"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.reg.EndListEntry(f.ctx, entry.ID, "again"); !errors.Is(err, registry.ErrListEntryEnded) {
		t.Fatalf("ending twice: %v", err)
	}
	if res, err := f.commit(req, wallet, escrow); err != nil || !res.Allowed {
		t.Fatalf("after lifting: %+v, %v", res, err)
	}
	// Now blacklist the party with that commitment open.
	e2, err := f.reg.AddListEntry(f.ctx, registry.NewListEntry{List: registry.Black, PartyID: p.ID, Reason: "fraud", Authority: "市场监管局"})
	if err != nil || e2.FlaggedOpen != 1 {
		t.Fatalf("flagged %d open commitments, %v", e2.FlaggedOpen, err)
	}
	// Entries are never deleted.
	if _, err := f.db.Pool.Exec(f.ctx, `DELETE FROM list_entries`); err == nil {
		t.Error("list entry deleted")
	}
	entries, err := f.reg.ListEntries(f.ctx, registry.ListFilter{}, page.Request{}, true)
	all := entries.Items
	if err != nil || len(all) != 2 || all[1].DocNumber != doc {
		t.Fatalf("regulator view: %+v, %v", all, err)
	}
	// Related parties and the issuer itself cannot invest.
	rel := f.party("investor", true)
	if err := f.reg.DeclareRelated(f.ctx, iss, rel, "director"); err != nil {
		t.Fatal(err)
	}
	f.qualify(rel, "US-REGCF", compliance.Profile{Entity: compliance.Individual, AnnualIncome: decimal.NewFromInt(30000), RiskAnswers: []int{4, 4, 4, 4, 4}})
	rw := f.account(rel, ledger.CodeInvestorWallet, "100.00")
	res, err = f.commit(campaign.CheckRequest{InvestorID: rel, IssuerID: iss, Pack: "US-REGCF", CampaignRisk: 1, Amount: usd("10.00")}, rw, escrow)
	if err != nil || res.Allowed || res.Refusals[0].RuleID != "SELF-FINANCING" {
		t.Fatalf("related party: %+v, %v", res, err)
	}
	// An unverified investor, and one with no qualification, are refused with each reason.
	raw := f.party("investor", false)
	rw2 := f.account(raw, ledger.CodeInvestorWallet, "100.00")
	res, err = f.commit(campaign.CheckRequest{InvestorID: raw, IssuerID: iss, Pack: "US-REGCF", CampaignRisk: 1, Amount: usd("10.00")}, rw2, escrow)
	if err != nil || res.Allowed || len(res.Refusals) != 2 {
		t.Fatalf("unverified, unqualified: %+v, %v", res, err)
	}
}

// qualify assesses and has a second compliance officer approve the decision.
func (f *fixture) qualify(party uuid.UUID, pack string, prof compliance.Profile) {
	f.t.Helper()
	q, err := f.reg.Qualify(f.ctx, party, pack, prof)
	if err != nil {
		f.t.Fatal(err)
	}
	reviewer := audit.WithActor(context.Background(), audit.Actor{KeyID: uuid.New(), Role: "compliance", Subject: "reviewer"}, "test")
	if _, err := f.reg.ApproveQualification(reviewer, q.ID, []registry.Evidence{{Kind: "tax record", DocumentHash: strings.Repeat("ab", 32)}}); err != nil {
		f.t.Fatal(err)
	}
}

// TestQualificationNeedsAnotherPersonsApproval: what anyone submits is
// declared and counts for nothing; neither the submitter nor the investor
// may approve it; a second compliance officer approves it with evidence,
// once, and from then on it counts.
func TestQualificationNeedsAnotherPersonsApproval(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	iss := f.party("issuer", true)
	inv := f.party("investor", true)
	investorCtx := audit.WithActor(context.Background(), audit.Actor{KeyID: uuid.New(), Role: "investor", Subject: inv.String()}, "t")
	// The investor declares a fortune themselves.
	q, err := f.reg.Qualify(investorCtx, inv, "US-REGCF", compliance.Profile{Entity: compliance.Individual, Accredited: true, AnnualIncome: decimal.NewFromInt(99999999),
		RiskAnswers: []int{5, 5, 5, 5, 5}})
	if err != nil || !q.Qualified {
		t.Fatalf("declared: %+v, %v", q, err)
	}
	check := campaign.CheckRequest{InvestorID: inv, IssuerID: iss, Pack: "US-REGCF", CampaignRisk: 3, Amount: usd("100.00")}
	if res, err := f.campaigns.Check(f.ctx, check); err != nil || res.Allowed || res.Refusals[0].RuleID != "US-REGCF/qualification" {
		t.Fatalf("a declared decision counted: %+v, %v", res, err)
	}
	evidence := []registry.Evidence{{Kind: "bank statement", DocumentHash: strings.Repeat("cd", 32)}}
	for name, ctx := range map[string]context.Context{
		"the investor, under another key": audit.WithActor(context.Background(), audit.Actor{KeyID: uuid.New(), Role: "investor", Subject: inv.String()}, "t"),
	} {
		if _, err := f.reg.ApproveQualification(ctx, q.ID, evidence); !errors.Is(err, registry.ErrSelfApproval) {
			t.Errorf("%s approved: %v", name, err)
		}
	}
	// A compliance officer's own assessment is theirs to submit, not to approve.
	own, _ := f.reg.Qualify(f.ctx, inv, "US-REGCF", compliance.Profile{Entity: compliance.Individual, AnnualIncome: decimal.NewFromInt(30000), RiskAnswers: []int{4, 4, 4, 4, 4}})
	if _, err := f.reg.ApproveQualification(f.ctx, own.ID, evidence); !errors.Is(err, registry.ErrSelfApproval) {
		t.Errorf("the submitter approved: %v", err)
	}
	reviewer := audit.WithActor(context.Background(), audit.Actor{KeyID: uuid.New(), Role: "compliance", Subject: "reviewer"}, "t")
	for _, bad := range [][]registry.Evidence{nil, {{Kind: "", DocumentHash: strings.Repeat("cd", 32)}}, {{Kind: "x", DocumentHash: "not a hash"}}} {
		if _, err := f.reg.ApproveQualification(reviewer, own.ID, bad); !errors.Is(err, registry.ErrInvalid) {
			t.Errorf("evidence %+v: %v", bad, err)
		}
	}
	got, err := f.reg.ApproveQualification(reviewer, own.ID, evidence)
	if err != nil || got.ApprovedBy == nil || *got.ApprovedBy != "staff:reviewer" || len(got.Evidence) != 1 {
		t.Fatalf("approve: %+v, %v", got, err)
	}
	if _, err := f.reg.ApproveQualification(reviewer, own.ID, evidence); !errors.Is(err, registry.ErrAlreadyApproved) {
		t.Errorf("approved twice: %v", err)
	}
	if res, err := f.campaigns.Check(f.ctx, check); err != nil || !res.Allowed {
		t.Errorf("the approved decision does not count: %+v, %v", res, err)
	}
}
