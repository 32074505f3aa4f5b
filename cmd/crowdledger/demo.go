package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/crowdledger/crowdledger/client"
	"github.com/crowdledger/crowdledger/compliance"
)

// demo plays three stories against a running service over its HTTP API,
// printing each step and checking every balance it expects:
//  1. a Qinghai highland-barley reward campaign that succeeds,
//  2. one that fails and refunds everyone,
//  3. a high-tech equity raise with a lead investor and followers, a refused
//     unqualified investor, a cooling-off cancellation, success, and a
//     distribution with carry.
func demo(ctx context.Context, args []string, getenv func(string) string, out io.Writer) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	url := fs.String("url", "http://localhost:8080", "the running service")
	key := fs.String("key", getenv("CROWDLEDGER_KEY"), "an operator API key (or CROWDLEDGER_KEY)")
	co := fs.String("compliance-key", getenv("CROWDLEDGER_COMPLIANCE_KEY"), "a compliance API key held by another person (or CROWDLEDGER_COMPLIANCE_KEY)")
	wait := fs.Duration("wait", 6*time.Second, "how long the demo campaigns run before their deadline")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *key == "" || *co == "" {
		return fmt.Errorf("demo needs an operator key and a compliance key held by two people: --key and --compliance-key " +
			"(crowdledger keys create --role operator --subject ops-1; crowdledger keys create --role compliance --subject compliance-1)")
	}
	d := &demoClient{ctx: ctx, base: strings.TrimRight(*url, "/"), op: *key, co: *co, out: out, wait: *wait, http: &http.Client{Timeout: 30 * time.Second}}
	return d.run()
}

type demoClient struct {
	ctx  context.Context
	base string
	op   string
	co   string
	out  io.Writer
	wait time.Duration
	http *http.Client
}

type obj = map[string]any

func (d *demoClient) say(format string, a ...any) { fmt.Fprintf(d.out, format+"\n", a...) }

func str(o obj, k string) string { s, _ := o[k].(string); return s }

func randDigits(n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		x, _ := rand.Int(rand.Reader, big.NewInt(10))
		b.WriteByte(byte('0' + x.Int64()))
	}
	return b.String()
}

// newResidentID makes a valid, random PRC resident identity number (Xining, Qinghai).
func newResidentID() string {
	s := "630102" + fmt.Sprintf("19%02d%02d%02d", 60+mustInt(30), 1+mustInt(12), 1+mustInt(28)) + randDigits(3)
	return s + string(compliance.ResidentIDCheck(s))
}

// newUSCC makes a valid, random unified social credit code.
func newUSCC() string {
	s := "91630100" + randDigits(9)
	c, _ := compliance.USCCCheck(s)
	return s + string(c)
}

func mustInt(n int64) int64 {
	x, _ := rand.Int(rand.Reader, big.NewInt(n))
	return x.Int64()
}

func (d *demoClient) party(role, name string) (string, error) {
	var p *client.CreatePartyResponse
	var err error
	for try := 0; try < 5; try++ { // random numbers can collide with someone already registered
		in := client.NewParty{Role: client.NewPartyRole(role), Entity: "individual", Jurisdiction: "CN", Name: name,
			Document: client.Document{Type: "prc_resident_id", Number: newResidentID()}}
		if role == "issuer" {
			in.Entity, in.Document = "institution", client.Document{Type: "prc_uscc", Number: newUSCC()}
		}
		p, err = d.typed().CreatePartyWithResponse(d.ctx, &client.CreatePartyParams{IdempotencyKey: newKey()}, in, as(d.op))
		if err == nil {
			err = answer("POST", "/v1/parties", p, nil, 201)
		}
		if err == nil || !strings.Contains(err.Error(), "party_exists") {
			break
		}
	}
	if err != nil {
		return "", err
	}
	id := p.JSON201.Id
	method := "video-kyc + bank card"
	v, err := d.typed().VerifyPartyWithResponse(d.ctx, id, &client.VerifyPartyParams{IdempotencyKey: newKey()},
		client.VerifyPartyJSONRequestBody{Status: "verified", Method: &method}, as(d.co))
	if err := answer("POST", "/v1/parties/"+id.String()+"/verification", v, err, 200); err != nil {
		return "", err
	}
	d.say("  registered %s %s, document %s, verified (实名认证)", role, p.JSON201.Name, p.JSON201.DocumentNumber)
	return id.String(), nil
}

func (d *demoClient) key(role, subject string) (string, error) {
	k, err := d.typed().CreateKeyWithResponse(d.ctx, &client.CreateKeyParams{IdempotencyKey: newKey()},
		client.CreateKeyJSONRequestBody{Role: client.CreateKeyJSONBodyRole(role), Subject: &subject, Name: "demo " + role}, as(d.op))
	if err := answer("POST", "/v1/keys", k, err, 201); err != nil {
		return "", err
	}
	if k.JSON201.Key == nil {
		return "", fmt.Errorf("POST /v1/keys: no key in the answer")
	}
	return *k.JSON201.Key, nil
}

func (d *demoClient) deposit(party, amount, ref string) error {
	id, err := uuid.Parse(party)
	if err != nil {
		return err
	}
	r, err := d.typed().DepositWithResponse(d.ctx, id, &client.DepositParams{IdempotencyKey: newKey()},
		client.DepositJSONRequestBody{Amount: amount, Currency: "CNY", BankReference: ref}, as(d.op))
	return answer("POST", "/v1/parties/"+party+"/deposits", r, err, 201)
}

func (d *demoClient) available(party string) (string, error) {
	id, err := uuid.Parse(party)
	if err != nil {
		return "", err
	}
	w, err := d.typed().GetWalletWithResponse(d.ctx, id, &client.GetWalletParams{Currency: "CNY"}, as(d.op))
	if err := answer("GET", "/v1/parties/"+party+"/wallet", w, err, 200); err != nil {
		return "", err
	}
	return w.JSON200.Available, nil
}

func (d *demoClient) expect(what, party, want string) error {
	got, err := d.available(party)
	if err != nil {
		return err
	}
	if got != want {
		return fmt.Errorf("%s: wallet holds %s, expected %s", what, got, want)
	}
	d.say("  ✓ %s: wallet %s CNY", what, got)
	return nil
}

func (d *demoClient) balance(account string) (string, error) {
	b, err := got(d.typed().GetBalanceWithResponse(d.ctx, uid(account), &client.GetBalanceParams{}, as(d.op))).want("GET", "/v1/accounts/"+account+"/balance", 200)
	if err != nil {
		return "", err
	}
	bal := b["balances"].(obj)
	return str(bal, "credits_posted") + " in / " + str(bal, "debits_posted") + " out", nil
}

// launch opens, submits and approves a campaign that runs for d.wait.
func (d *demoClient) launch(issuerKey string, spec obj) (obj, error) {
	now := time.Now().UTC()
	spec["starts_at"] = now.Add(-time.Second).Format(time.RFC3339Nano)
	spec["deadline"] = now.Add(d.wait).Format(time.RFC3339Nano)
	c, err := got(d.typed().CreateCampaignWithBodyWithResponse(d.ctx, &client.CreateCampaignParams{IdempotencyKey: newKey()}, jsonCT, jsonBody(spec), as(issuerKey))).want("POST", "/v1/campaigns", 201)
	if err != nil {
		return nil, err
	}
	id := str(c, "id")
	if _, err := got(d.typed().SubmitCampaignWithBodyWithResponse(d.ctx, uid(id), &client.SubmitCampaignParams{IdempotencyKey: newKey()}, jsonCT, jsonBody(obj{"disclosures": []obj{{
		"title": "商业计划书与风险揭示书", "kind": "business_plan", "document_hash": strings.Repeat("5a", 32)}}}), as(issuerKey))).want("POST", "/v1/campaigns/"+id+"/submit", 200); err != nil {
		return nil, err
	}
	c, err = got(d.typed().ApproveCampaignWithResponse(d.ctx, uid(id), &client.ApproveCampaignParams{IdempotencyKey: newKey()}, as(d.co))).want("POST", "/v1/campaigns/"+id+"/approve", 200)
	if err != nil {
		return nil, err
	}
	d.say("  campaign %q is %s (approved by compliance, not its creator), target %s CNY, deadline in %s", str(c, "title"), str(c, "state"), str(c, "target"), d.wait)
	return c, nil
}

// awaitState polls until the scheduler has closed the campaign.
func (d *demoClient) awaitState(id, want string) (obj, error) {
	deadline := time.Now().Add(d.wait + 30*time.Second)
	for {
		c, err := got(d.typed().GetCampaignWithResponse(d.ctx, uid(id), as(d.op))).want("GET", "/v1/campaigns/"+id, 200)
		if err != nil {
			return nil, err
		}
		if str(c, "state") == want {
			return c, nil
		}
		if time.Now().After(deadline) {
			// Money is released only when every backer's cancellation right has
			// ended: 24 hours after a CN pledge unless the service runs with a
			// shorter PLATFORM_COOLING_OFF.
			return nil, fmt.Errorf("campaign %s is %s, still not %s: if backers may still cancel, run the service with PLATFORM_COOLING_OFF shorter than --wait (for the demo: PLATFORM_COOLING_OFF=2s)",
				id, str(c, "state"), want)
		}
		select {
		case <-d.ctx.Done():
			return nil, d.ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func (d *demoClient) run() error {
	for _, story := range []func() error{d.rewardSuccess, d.rewardFailure, d.equity} {
		if err := story(); err != nil {
			return err
		}
	}
	d.say("\nAll three stories played out; every balance matched. `crowdledger check` verifies the ledger's invariants.")
	return d.whereToLook()
}

// whereToLook lists what the demo made, found the way a client finds it
// (the campaign list and the event feed, through the generated client),
// with the URLs to look at.
func (d *demoClient) whereToLook() error {
	limit := 10
	page, err := d.typed().ListCampaignsWithResponse(d.ctx, &client.ListCampaignsParams{Limit: &limit}, as(d.op))
	if err := answer("GET", "/v1/campaigns", page, err, 200); err != nil {
		return err
	}
	d.say("\nWhat the demo made (newest first; the operator key sees every one):")
	for _, c := range page.JSON200.Items {
		d.say("  %-9s %-6s %-28s %s/v1/campaigns/%s", c.State, c.Kind, c.Title, d.base, c.Id)
		d.say("  %9s commitments: %s/v1/commitments?campaign_id=%s   report: %s/v1/reports/campaigns/%s?format=csv", "", d.base, c.Id, d.base, c.Id)
	}
	after, events := "0", 0
	for {
		limit := 500
		ev, err := d.typed().ListEventsWithResponse(d.ctx, &client.ListEventsParams{After: &after, Limit: &limit}, as(d.op))
		if err := answer("GET", "/v1/events", ev, err, 200); err != nil {
			return err
		}
		events += len(ev.JSON200.Items)
		if ev.JSON200.NextCursor == after {
			break
		}
		after = ev.JSON200.NextCursor
	}
	d.say("  %d events so far on the feed: %s/v1/events?after=0 (long-poll with &wait=20; subscribe a URL with POST /v1/webhooks)", events, d.base)
	d.say("  the ledger's accounts: %s/v1/accounts   transfers: %s/v1/transfers   the audit trail: %s/v1/audit/verify", d.base, d.base, d.base)
	return nil
}

func (d *demoClient) rewardSuccess() error {
	d.say("\n== 1. 青海高原青稞 reward campaign (实物众筹) that succeeds ==")
	issuer, err := d.party("issuer", "青海高原青稞食品有限公司")
	if err != nil {
		return err
	}
	ik, err := d.key("issuer", issuer)
	if err != nil {
		return err
	}
	c, err := d.launch(ik, obj{"issuer_id": issuer, "kind": "reward", "pack": "CN-2015", "currency": "CNY", "title": "青稞挂面与青稞酒 预售",
		"risk_level": 1, "target": "500.00", "hard_cap": "2000.00", "fee_rate": "0.05",
		"tiers": []obj{{"id": "noodles", "title": "青稞挂面一箱", "price": "99.00", "quantity_limit": 100}, {"id": "wine", "title": "青稞酒礼盒", "price": "268.00"}}})
	if err != nil {
		return err
	}
	id := str(c, "id")
	backerKeys := map[string]string{} // party id -> key
	for i, b := range []struct{ name, tier string }{{"卓玛", "wine"}, {"李明", "noodles"}, {"王芳", "wine"}} {
		p, err := d.party("investor", b.name)
		if err != nil {
			return err
		}
		if err := d.deposit(p, "300.00", fmt.Sprintf("ICBC-%s-%d", id[:8], i)); err != nil {
			return err
		}
		bk, err := d.key("investor", p)
		if err != nil {
			return err
		}
		backerKeys[p] = bk
		cm, err := d.commit(bk, id, obj{"tier": b.tier, "quantity": 1}, 201)
		if err != nil {
			return err
		}
		d.say("  %s pledges %s CNY for %s (held in escrow as a pending transfer)", b.name, str(cm, "amount"), b.tier)
	}
	c, err = d.awaitState(id, "settled")
	if err != nil {
		return err
	}
	d.say("  deadline passed: raised %s CNY (%s%% of target) from %v backers → %s", str(c, "committed"), str(c, "percent_of_target"), c["investors"], str(c, "state"))
	pay, err := d.balance(str(c, "payable_account_id"))
	if err != nil {
		return err
	}
	d.say("  issuer payable: %s  (635.00 raised less the 5%% fee 31.75)", pay)
	if !strings.HasPrefix(pay, "603.25 in") {
		return fmt.Errorf("issuer payable %s, expected 603.25 in", pay)
	}
	return d.deliverAndDisburse(id, issuer, ik, backerKeys)
}

// deliverAndDisburse pays the issuer in steps: what may go at settlement,
// the rest as orders are delivered, the after-sales reserve kept back, and
// one after-sales refund paid out of it.
func (d *demoClient) deliverAndDisburse(id, issuer, ik string, backerKeys map[string]string) error {
	disburse := func(what, want string) error {
		r, err := got(d.typed().CampaignReleaseWithResponse(d.ctx, uid(id), as(d.op))).want("GET", "/v1/campaigns/"+id+"/release", 200)
		if err != nil {
			return err
		}
		d.say("  %s: payable %s, held for undelivered orders %s, after-sales reserve %s → releasable %s",
			what, str(r, "payable"), str(r, "held_for_undelivered_orders"), str(r, "after_sales_reserve"), str(r, "releasable"))
		if str(r, "releasable") != want {
			return fmt.Errorf("releasable %s, expected %s", str(r, "releasable"), want)
		}
		ds, err := got(d.typed().RequestDisbursementWithBodyWithResponse(d.ctx, uid(id), &client.RequestDisbursementParams{IdempotencyKey: newKey()}, jsonCT,
			jsonBody(obj{"amount": want, "currency": "CNY"}), as(d.op))).want("POST", "/v1/campaigns/"+id+"/disbursements", 201)
		if err != nil {
			return err
		}
		if _, err := got(d.typed().ApproveDisbursementWithResponse(d.ctx, uid(str(ds, "id")), &client.ApproveDisbursementParams{IdempotencyKey: newKey()}, as(d.co))).want("POST", "/v1/disbursements/"+str(ds, "id")+"/approve", 200); err != nil {
			return err
		}
		d.say("  disbursed %s CNY to the issuer (asked by operations, approved by compliance)", want)
		return nil
	}
	// 635.00 raised: half of the undelivered orders is held (301.62) and 10% for after-sales (60.32).
	if err := disburse("at settlement", "241.31"); err != nil {
		return err
	}
	orders, err := got(d.typed().ListCampaignOrdersWithResponse(d.ctx, uid(id), &client.ListCampaignOrdersParams{}, as(ik))).want("GET", "/v1/campaigns/"+id+"/orders", 200)
	if err != nil {
		return err
	}
	var first string
	for i, o := range orders["items"].([]any) {
		o := o.(map[string]any)
		if _, err := got(d.typed().ShipOrderWithBodyWithResponse(d.ctx, uid(str(o, "id")), &client.ShipOrderParams{IdempotencyKey: newKey()}, jsonCT,
			jsonBody(obj{"carrier": "顺丰", "tracking": fmt.Sprintf("SF%010d", i+1)}), as(ik))).want("POST", "/v1/orders/"+str(o, "id")+"/ship", 200); err != nil {
			return err
		}
		if _, err := got(d.typed().ConfirmOrderWithResponse(d.ctx, uid(str(o, "id")), &client.ConfirmOrderParams{IdempotencyKey: newKey()}, as(backerKeys[str(o, "backer_id")]))).want("POST", "/v1/orders/"+str(o, "id")+"/confirm", 200); err != nil {
			return err
		}
		if i == 0 {
			first = str(o, "id")
		}
	}
	d.say("  the issuer ships every order (顺丰) and each backer confirms receipt")
	if err := disburse("after delivery", "301.62"); err != nil {
		return err
	}
	if _, err := got(d.typed().RefundOrderWithBodyWithResponse(d.ctx, uid(first), &client.RefundOrderParams{IdempotencyKey: newKey()}, jsonCT,
		jsonBody(obj{"amount": "50.00", "reason": "售后: 包装破损"}), as(d.co))).want("POST", "/v1/orders/"+first+"/refund", 200); err != nil {
		return err
	}
	pay, err := got(d.typed().CampaignReleaseWithResponse(d.ctx, uid(id), as(d.op))).want("GET", "/v1/campaigns/"+id+"/release", 200)
	if err != nil {
		return err
	}
	d.say("  after-sales: a damaged box refunded 50.00 CNY out of the reserve; the payable keeps %s until the after-sales period ends", str(pay, "payable"))
	if str(pay, "payable") != "10.32" {
		return fmt.Errorf("payable after the after-sales refund %s, expected 10.32", str(pay, "payable"))
	}
	return nil
}

func (d *demoClient) rewardFailure() error {
	d.say("\n== 2. A reward campaign that misses its target: everyone is refunded ==")
	issuer, err := d.party("issuer", "祁连山牦牛乳业有限公司")
	if err != nil {
		return err
	}
	ik, err := d.key("issuer", issuer)
	if err != nil {
		return err
	}
	c, err := d.launch(ik, obj{"issuer_id": issuer, "kind": "reward", "pack": "CN-2015", "currency": "CNY", "title": "牦牛奶片 众筹",
		"risk_level": 1, "target": "10000.00", "fee_rate": "0.05", "tiers": []obj{{"id": "pack", "title": "一袋", "price": "33.33"}}})
	if err != nil {
		return err
	}
	id := str(c, "id")
	var backers []string
	for i, name := range []string{"张伟", "格桑"} {
		p, err := d.party("investor", name)
		if err != nil {
			return err
		}
		backers = append(backers, p)
		if err := d.deposit(p, "100.00", fmt.Sprintf("CCB-%s-%d", id[:8], i)); err != nil {
			return err
		}
		bk, _ := d.key("investor", p)
		if _, err := d.commit(bk, id, obj{"tier": "pack", "quantity": 2 + i}, 201); err != nil {
			return err
		}
		d.say("  %s pledges %d x 33.33 CNY", name, 2+i)
	}
	if _, err := d.awaitState(id, "refunded"); err != nil {
		return err
	}
	d.say("  deadline passed short of 10000.00: failed → refunded")
	for i, p := range backers {
		if err := d.expect([]string{"张伟", "格桑"}[i]+" refunded to the fen", p, "100.00"); err != nil {
			return err
		}
	}
	return nil
}

// qualify has the investor declare their profile and a compliance officer
// approve the decision with the evidence seen (a bank statement, by its
// hash): a declared decision counts for nothing until then.
func (d *demoClient) qualify(p string, assets string) (obj, error) {
	k, err := d.key("investor", p)
	if err != nil {
		return nil, err
	}
	q, err := got(d.typed().QualifyWithBodyWithResponse(d.ctx, uid(p), &client.QualifyParams{IdempotencyKey: newKey()}, jsonCT, jsonBody(obj{"pack": "CN-2015", "profile": obj{"entity": "individual",
		"financial_assets": assets, "annual_income": "200000.00", "risk_answers": []int{4, 4, 4, 3, 4}, "investment_years": 8, "exits": 3}}), as(k))).want("POST", "/v1/parties/"+p+"/qualification", 201)
	if err != nil {
		return nil, err
	}
	statement := sha256.Sum256([]byte("bank statement of " + p))
	if _, err := got(d.typed().ApproveQualificationWithBodyWithResponse(d.ctx, uid(str(q, "id")), &client.ApproveQualificationParams{IdempotencyKey: newKey()}, jsonCT,
		jsonBody(obj{"evidence": []obj{{"kind": "bank statement", "document_hash": hex.EncodeToString(statement[:])}}}), as(d.co))).want("POST", "/v1/qualifications/"+str(q, "id")+"/approve", 200); err != nil {
		return nil, fmt.Errorf("approve the qualification: %w", err)
	}
	return q, nil
}

func (d *demoClient) equity() error {
	d.say("\n== 3. 高原光伏储能 equity campaign (股权众筹) with a lead investor and followers ==")
	issuer, err := d.party("issuer", "青海高原光伏储能科技有限公司")
	if err != nil {
		return err
	}
	ik, _ := d.key("issuer", issuer)
	lead, err := d.party("investor", "陈领投")
	if err != nil {
		return err
	}
	q, err := d.qualify(lead, "5000000.00")
	if err != nil {
		return err
	}
	d.say("  lead investor qualified under %s %s: %s, risk tolerance %s, may lead a syndicate: %v", str(q, "pack"), str(q, "pack_version"),
		str(q, "category"), str(q, "risk_tolerance"), q["lead_eligible"])
	c, err := d.launch(ik, obj{"issuer_id": issuer, "kind": "equity", "pack": "CN-2015", "currency": "CNY", "title": "高原光伏储能 天使轮",
		"target": "1000000.00", "hard_cap": "1200000.00", "min_ticket": "100000.00", "price_per_share": "100.00", "fee_rate": "0.03",
		"lead_investor_id": lead, "carry_rate": "0.20"})
	if err != nil {
		return err
	}
	id := str(c, "id")
	if err := d.deposit(lead, "300000.00", "BOC-lead-"+id[:8]); err != nil {
		return err
	}
	lk, _ := d.key("investor", lead)
	// Every CN equity commitment acknowledges the risk disclosure letter (投资风险揭示书) by its hash.
	ack, err := d.riskDisclosure(lk, "CN-2015")
	if err != nil {
		return err
	}
	if _, err := d.commit(lk, id, obj{"shares": 2000, "risk_disclosure": ack}, 201); err != nil {
		return err
	}
	d.say("  every commitment acknowledges the risk disclosure letter (投资风险揭示书) by its SHA-256 %s…", ack[:12])
	d.say("  lead commits 2000 shares = 200000.00 CNY (at least 10%% of the target, before any follower)")
	var followers []string
	var fkeys []string
	for i, name := range []string{"赵跟投", "钱跟投", "孙跟投"} {
		p, err := d.party("investor", name)
		if err != nil {
			return err
		}
		if _, err := d.qualify(p, "1500000.00"); err != nil {
			return err
		}
		if err := d.deposit(p, "400000.00", fmt.Sprintf("BOC-%s-%d", id[:8], i)); err != nil {
			return err
		}
		fk, _ := d.key("investor", p)
		followers, fkeys = append(followers, p), append(fkeys, fk)
	}
	var cms []obj
	for i, shares := range []int{4000, 4000, 1000} {
		cm, err := d.commit(fkeys[i], id, obj{"shares": shares, "risk_disclosure": ack}, 201)
		if err != nil {
			return err
		}
		cms = append(cms, cm)
		d.say("  follower commits %d shares = %s CNY through the syndicate vehicle (有限合伙)", shares, str(cm, "amount"))
	}
	poor, err := d.party("investor", "周散户")
	if err != nil {
		return err
	}
	if _, err := d.qualify(poor, "80000.00"); err != nil {
		return err
	}
	if err := d.deposit(poor, "200000.00", "BOC-poor-"+id[:8]); err != nil {
		return err
	}
	pk, _ := d.key("investor", poor)
	refused, err := d.commit(pk, id, obj{"shares": 1000, "risk_disclosure": ack}, 422)
	if err != nil {
		return err
	}
	d.say("  an unqualified investor is refused (%s):", str(refused, "code"))
	for _, r := range refused["reasons"].([]any) {
		rr := r.(obj)
		line := fmt.Sprintf("    - %s: %s", rr["rule_id"], rr["message"])
		if f, ok := rr["figure"].(string); ok {
			line += " (" + f
			if th, ok := rr["threshold"].(string); ok {
				line += ", threshold " + th
			}
			line += ")"
		}
		d.say("%s", line)
	}
	if _, err := got(d.typed().CancelCommitmentWithResponse(d.ctx, uid(str(cms[2], "id")), &client.CancelCommitmentParams{IdempotencyKey: newKey()}, as(fkeys[2]))).want("POST", "/v1/commitments/"+str(cms[2], "id")+"/cancel", 200); err != nil {
		return err
	}
	d.say("  孙跟投 cancels within the cooling-off window: the pending transfer is voided")
	if err := d.expect("孙跟投 has every fen back", followers[2], "400000.00"); err != nil {
		return err
	}
	d.say("  at the deadline the campaign waits until the last follower's cancellation window has ended; only then is money released")
	c, err = d.awaitState(id, "settled")
	if err != nil {
		return err
	}
	d.say("  deadline passed: %s CNY committed by %v investors → %s", str(c, "committed"), c["investors"], str(c, "state"))
	pay, _ := d.balance(str(c, "payable_account_id"))
	d.say("  issuer payable: %s (1,000,000.00 less the 3%% fee)", pay)
	if !strings.HasPrefix(pay, "970000.00 in") {
		return fmt.Errorf("issuer payable %s, expected 970000.00 in", pay)
	}
	table, err := got(d.typed().CapTableWithResponse(d.ctx, uid(id), nil, as(d.op))).want("GET", "/v1/campaigns/"+id+"/cap-table", 200)
	if err != nil {
		return err
	}
	for _, h := range table["holders"].([]any) {
		hh := h.(obj)
		if hh["vehicle_id"] != nil {
			d.say("  cap table: syndicate vehicle %s… holds %v shares for %d members", str(hh, "vehicle_id")[:8], hh["shares"], len(hh["members"].([]any)))
		} else {
			d.say("  cap table: lead investor holds %v shares directly", hh["shares"])
		}
	}
	// A first dividend pays capital back to the members; an exit pays profit with 20% carry to the lead.
	if err := d.deposit(issuer, "1500000.00", "BOC-issuer-"+id[:8]); err != nil {
		return err
	}
	for _, dist := range []struct{ amount, kind string }{{"800000.01", "dividend"}, {"500000.00", "exit"}} {
		dd, err := got(d.typed().DistributeWithBodyWithResponse(d.ctx, uid(id), &client.DistributeParams{IdempotencyKey: newKey()}, jsonCT,
			jsonBody(obj{"amount": dist.amount, "currency": "CNY", "kind": dist.kind}), as(ik))).want("POST", "/v1/campaigns/"+id+"/distributions", 201)
		if err != nil {
			return err
		}
		d.say("  %s of %s CNY:", dist.kind, str(dd, "amount"))
		for _, l := range dd["lines"].([]any) {
			ll := l.(obj)
			d.say("    %-15s %12s", ll["part"], ll["amount"])
		}
	}
	// 100000.00 never committed + 160000.00 dividend + 100000.00 exit + 48000.00 carry (20% of the 240000.01 profit, largest remainder).
	if err := d.expect("lead after two distributions", lead, "408000.00"); err != nil {
		return err
	}
	return nil
}

// riskDisclosure reads the pack's risk disclosure letter, as an investor's
// app shows it, and returns the hash the investor acknowledges.
func (d *demoClient) riskDisclosure(key, pack string) (string, error) {
	l, err := got(d.typed().RiskDisclosureWithResponse(d.ctx, pack, as(key))).want("GET", "/v1/packs/"+pack+"/risk-disclosure", 200)
	if err != nil {
		return "", err
	}
	return str(l, "sha256"), nil
}

// commit is a commitment through the typed client, its body written as a
// map (a reward pledge or an equity subscription).
func (d *demoClient) commit(key, campaign string, body obj, want int) (obj, error) {
	return got(d.typed().CommitWithBodyWithResponse(d.ctx, uid(campaign), &client.CommitParams{IdempotencyKey: newKey()}, jsonCT, jsonBody(body), as(key))).
		want("POST", "/v1/campaigns/"+campaign+"/commitments", want)
}
