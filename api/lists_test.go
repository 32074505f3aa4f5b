package api_test

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/jackc/pgx/v5"

	"github.com/crowdledger/crowdledger/api"
	"github.com/crowdledger/crowdledger/auth"
)

// listStory opens two issuers' campaigns (one live with three backers and
// closed into orders, one a draft) and returns what the list tests look for.
type listStory struct {
	v                   *env
	issuer, other       string
	issuerKey, otherKey string
	backers, backerKeys []string
	live, draft         string
	escrow              string
	commitments         []string
	keyByRole           map[string]string
}

func newListStory(t testing.TB) *listStory {
	return newListStoryTraced(t, nil)
}

func newListStoryTraced(t testing.TB, tracer pgx.QueryTracer) *listStory {
	return newListStoryOn(t, newEnvTraced(t, tracer))
}

// newListStoryOn plays the story on an environment the caller made.
func newListStoryOn(t testing.TB, v *env) *listStory {
	op, co := v.key[auth.Operator], v.key[auth.Compliance]
	s := &listStory{v: v}
	s.issuer = v.party("issuer", "institution", "prc_uscc", "91350100M000100Y43", "青海高原青稞食品有限公司")
	s.issuerKey = v.keyFor(auth.Issuer, s.issuer)
	s.other = v.party("issuer", "institution", "other", "OTHER-0002", "别家公司")
	s.otherKey = v.keyFor(auth.Issuer, s.other)
	for i := 0; i < 3; i++ {
		b := v.party("investor", "individual", "prc_resident_id", validID(400+i), fmt.Sprint("列表", i))
		s.backers, s.backerKeys = append(s.backers, b), append(s.backerKeys, v.keyFor(auth.Investor, b))
		v.must(201, req{method: "POST", path: "/v1/parties/" + b + "/deposits", key: op, body: fmt.Sprintf(`{"amount":"500.00","currency":"CNY","bank_reference":"L-%d"}`, i)})
	}
	now := v.clock.Load()
	open := func(key, issuer, title string) map[string]any {
		return v.must(201, req{method: "POST", path: "/v1/campaigns", key: key, body: fmt.Sprintf(`{"issuer_id":%q,"kind":"reward","pack":"CN-2015","currency":"CNY","title":%q,"risk_level":1,
			"target":"250.00","hard_cap":"1500.00","fee_rate":"0.05","starts_at":%q,"deadline":%q,"tiers":[{"id":"box","title":"一箱","price":"99.00"}]}`,
			issuer, title, now.Add(-time.Minute).Format(time.RFC3339), now.Add(30*24*time.Hour).Format(time.RFC3339))}).Body
	}
	live := open(s.issuerKey, s.issuer, "青稞挂面 100% 预售")
	s.live, s.escrow = live["id"].(string), live["escrow_account_id"].(string)
	s.draft = open(s.otherKey, s.other, "别家的草稿")["id"].(string)
	v.must(200, req{method: "POST", path: "/v1/campaigns/" + s.live + "/submit", key: s.issuerKey, body: `{"disclosures":[{"title":"产品说明","kind":"product_spec","document_hash":"` + strings.Repeat("ab", 32) + `"}]}`})
	v.must(200, req{method: "POST", path: "/v1/campaigns/" + s.live + "/approve", key: co})
	for _, k := range s.backerKeys {
		s.commitments = append(s.commitments, v.must(201, req{method: "POST", path: "/v1/campaigns/" + s.live + "/commitments", key: k, body: `{"tier":"box","quantity":1}`}).str("id"))
	}
	v.advance(31 * 24 * time.Hour)
	v.must(200, req{method: "POST", path: "/v1/campaigns/" + s.live + "/close", key: op})
	v.must(201, req{method: "POST", path: "/v1/complaints", key: s.backerKeys[0], body: `{"against_type":"campaign","against_id":"` + s.live + `","summary":"发货太慢了"}`})
	v.must(201, req{method: "POST", path: "/v1/freezes", key: v.key[auth.Regulator], body: `{"target_type":"party","target_id":"` + s.backers[2] + `","reason":"调查","legal_basis":"反洗钱法"}`})
	s.keyByRole = map[string]string{"operator": op, "compliance": co, "regulator": v.key[auth.Regulator], "issuer": s.issuerKey, "investor": s.backerKeys[0]}
	return s
}

// walk pages through path with limit n and returns every item.
func (s *listStory) walk(key, path string, n int) []map[string]any {
	s.v.t.Helper()
	var out []map[string]any
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	for cursor, pages := "", 0; ; pages++ {
		q := fmt.Sprintf("%s%slimit=%d", path, sep, n)
		if cursor != "" {
			q += "&cursor=" + url.QueryEscape(cursor)
		}
		r := s.v.must(200, req{method: "GET", path: q, key: key})
		items, _ := r.Body["items"].([]any)
		if len(items) > n {
			s.v.t.Fatalf("%s: %d items on a page of %d", q, len(items), n)
		}
		for _, it := range items {
			out = append(out, it.(map[string]any))
		}
		if cursor = r.str("next_cursor"); cursor == "" {
			return out
		}
		if pages > 100 {
			s.v.t.Fatalf("%s: no end", path)
		}
	}
}

func ids(items []map[string]any, field string) []string {
	var out []string
	for _, it := range items {
		out = append(out, fmt.Sprint(it[field]))
	}
	return out
}

// TestEveryListAnswersEveryRoleItAllows drives each list route in the
// OpenAPI document (a GET whose answer is a page) with each role its
// x-roles name: 200, the page's documented shape (the harness validates
// every response), and a walk with limit=1 that returns what one page of
// 500 does, each item once.
func TestEveryListAnswersEveryRoleItAllows(t *testing.T) {
	t.Parallel()
	s := newListStory(t)
	doc, err := openapi3.NewLoader().LoadFromData(api.OpenAPI())
	if err != nil {
		t.Fatal(err)
	}
	lists := 0
	for path, item := range doc.Paths.Map() {
		op := item.Get
		if op == nil {
			continue
		}
		ok := op.Responses.Value("200")
		if ok == nil || ok.Value.Content.Get("application/json") == nil || !strings.HasSuffix(ok.Value.Content.Get("application/json").Schema.Ref, "Page") {
			continue
		}
		if path == "/v1/events" || strings.HasPrefix(path, "/v1/webhooks/") {
			continue // a feed, oldest first from a cursor, and a subscription's deliveries: their own tests
		}
		lists++
		concrete := strings.ReplaceAll(path, "{id}", s.live)
		if strings.HasPrefix(path, "/v1/accounts/") {
			concrete = strings.ReplaceAll(path, "{id}", s.escrow)
		}
		roles, _ := op.Extensions["x-roles"].([]any)
		if len(roles) == 0 {
			roles = []any{""} // public
		}
		for _, role := range roles {
			key := s.keyByRole[fmt.Sprint(role)]
			all := s.v.must(200, req{method: "GET", path: concrete + "?limit=500", key: key})
			items, _ := all.Body["items"].([]any)
			if _, paged := all.Body["next_cursor"]; paged {
				t.Fatalf("%s as %v: more than 500 items in a small story", path, role)
			}
			if strings.HasSuffix(op.Responses.Value("200").Value.Content.Get("application/json").Schema.Ref, "EntriesPage") ||
				path == "/v1/campaigns/{id}/disclosures" || path == "/v1/alerts" || path == "/v1/key-grants" {
				continue // a statement's own cursor, or lists that are whole
			}
			walked := s.walk(key, concrete, 1)
			if len(walked) != len(items) {
				t.Errorf("%s as %v: walking by 1 gave %d items, one page %d", path, role, len(walked), len(items))
			}
			seen := map[string]bool{}
			for i, it := range walked {
				id := fmt.Sprint(it["id"])
				if seen[id] {
					t.Errorf("%s as %v: %s twice", path, role, id)
				}
				seen[id] = true
				if want := items[i].(map[string]any)["id"]; fmt.Sprint(want) != id {
					t.Errorf("%s as %v: item %d is %s walking, %v in one page", path, role, i, id, want)
				}
			}
		}
	}
	if lists < 15 {
		t.Errorf("only %d list routes found in the OpenAPI document", lists)
	}
}

// TestListsShowEachPartyOnlyItsOwn: investors and issuers list only what
// is theirs, and nobody lists a draft they may not open.
func TestListsShowEachPartyOnlyItsOwn(t *testing.T) {
	t.Parallel()
	s := newListStory(t)
	v := s.v
	for i, k := range s.backerKeys {
		cms := s.walk(k, "/v1/commitments", 50)
		if len(cms) != 1 || cms[0]["id"] != s.commitments[i] || cms[0]["investor_id"] != s.backers[i] {
			t.Errorf("backer %d lists commitments %v", i, ids(cms, "id"))
		}
		// Filtering by someone else's id does not widen the view.
		if got := s.walk(k, "/v1/commitments?investor_id="+s.backers[(i+1)%3], 50); len(got) != 0 {
			t.Errorf("backer %d sees another's commitments: %v", i, ids(got, "id"))
		}
		orders := s.walk(k, "/v1/orders", 50)
		if len(orders) != 1 || orders[0]["backer_id"] != s.backers[i] || orders[0]["commitment_id"] != s.commitments[i] {
			t.Errorf("backer %d lists orders %v", i, ids(orders, "id"))
		}
	}
	if got := s.walk(s.issuerKey, "/v1/commitments", 50); len(got) != 3 {
		t.Errorf("issuer lists %d commitments of its campaign, want 3", len(got))
	}
	if got := s.walk(s.otherKey, "/v1/commitments", 50); len(got) != 0 {
		t.Errorf("another issuer lists commitments: %v", ids(got, "id"))
	}
	if got := s.walk(s.otherKey, "/v1/orders?campaign_id="+s.live, 50); len(got) != 0 {
		t.Errorf("another issuer lists orders: %v", ids(got, "id"))
	}
	if r := v.do(req{method: "GET", path: "/v1/campaigns/" + s.live + "/orders", key: s.otherKey}); r.Status != 404 {
		t.Errorf("another issuer's campaign orders: %d", r.Status)
	}
	campaignsOf := func(key string) string { return strings.Join(ids(s.walk(key, "/v1/campaigns", 50), "id"), ",") }
	if got := campaignsOf(s.backerKeys[0]); got != s.live {
		t.Errorf("investor lists campaigns %s, want only the live one", got)
	}
	if got := campaignsOf(s.otherKey); got != s.draft+","+s.live {
		t.Errorf("issuer with a draft lists %s, want its draft and the public one, newest first", got)
	}
	if got := campaignsOf(s.issuerKey); got != s.live {
		t.Errorf("issuer lists %s: another's draft is not public", got)
	}
	if got := campaignsOf(v.key[auth.Regulator]); got != s.draft+","+s.live {
		t.Errorf("regulator lists %s", got)
	}
	if got := s.walk(s.backerKeys[1], "/v1/complaints", 50); len(got) != 0 {
		t.Errorf("backer 1 sees another's complaint")
	}
	if got := s.walk(s.backerKeys[0], "/v1/complaints", 50); len(got) != 1 || len(got[0]["timeline"].([]any)) != 0 {
		t.Errorf("backer 0's complaints: %v", got)
	}
}

// TestListFilters: each filter narrows, text search is a substring match
// in which % and _ are plain characters, and bad values are 4xx.
func TestListFilters(t *testing.T) {
	t.Parallel()
	s := newListStory(t)
	v := s.v
	reg, op := v.key[auth.Regulator], v.key[auth.Operator]
	for _, tc := range []struct {
		path string
		want []string
	}{
		{"/v1/campaigns?q=挂面", []string{s.live}},
		{"/v1/campaigns?q=" + url.QueryEscape("100%"), []string{s.live}},
		{"/v1/campaigns?q=" + url.QueryEscape("0% 预"), []string{s.live}},
		{"/v1/campaigns?q=" + url.QueryEscape("0_"), nil}, // "00" would match an unescaped _
		{"/v1/campaigns?q=" + url.QueryEscape("%%"), nil},
		{"/v1/campaigns?q=BARLEY", nil},
		{"/v1/campaigns?q=青稞挂面%20100", []string{s.live}},
		{"/v1/campaigns?state=draft", []string{s.draft}},
		{"/v1/campaigns?state=settled&kind=reward&currency=CNY", []string{s.live}},
		{"/v1/campaigns?issuer_id=" + s.other, []string{s.draft}},
		{"/v1/campaigns?deadline_from=" + url.QueryEscape(v.clock.Load().Format(time.RFC3339)), nil},
		{"/v1/campaigns?kind=equity", nil},
		{"/v1/commitments?campaign_id=" + s.live + "&state=settled", s.reversed(s.commitments)},
		{"/v1/commitments?state=live", nil},
		{"/v1/orders?backer_id=" + s.backers[1], nil}, // checked below by commitment
		{"/v1/parties?role=issuer", []string{s.other, s.issuer}},
		{"/v1/freezes?active=true&target_id=" + s.backers[2], nil},
		{"/v1/complaints?state=received", nil},
	} {
		got := s.walk(reg, tc.path, 2)
		if tc.path == "/v1/orders?backer_id="+s.backers[1] {
			if len(got) != 1 || got[0]["commitment_id"] != s.commitments[1] {
				t.Errorf("%s: %v", tc.path, got)
			}
			continue
		}
		if tc.path == "/v1/freezes?active=true&target_id="+s.backers[2] || tc.path == "/v1/complaints?state=received" {
			if len(got) != 1 {
				t.Errorf("%s: %d items, want 1", tc.path, len(got))
			}
			continue
		}
		if g := strings.Join(ids(got, "id"), ","); g != strings.Join(tc.want, ",") {
			t.Errorf("%s: got %s, want %s", tc.path, g, strings.Join(tc.want, ","))
		}
	}
	// Transfers: by account, by metadata, by kind; every one touches what it was asked for.
	byEscrow := s.walk(op, "/v1/transfers?account_id="+s.escrow, 3)
	if len(byEscrow) < 6 { // three holds and their three posts, then the payout
		t.Errorf("escrow transfers: %d", len(byEscrow))
	}
	for _, tr := range byEscrow {
		if tr["debit_account_id"] != s.escrow && tr["credit_account_id"] != s.escrow {
			t.Errorf("transfer %v does not touch the escrow", tr["id"])
		}
	}
	pending := s.walk(op, "/v1/transfers?account_id="+s.escrow+"&kind=pending", 50)
	if len(pending) != 3 {
		t.Errorf("pending holds into the escrow: %d, want 3", len(pending))
	}
	meta := s.walk(op, "/v1/transfers?metadata.campaign_id="+s.live, 50)
	if len(meta) == 0 {
		t.Error("no transfer carries the campaign's id")
	}
	for _, tr := range meta {
		if tr["metadata"].(map[string]any)["campaign_id"] != s.live {
			t.Errorf("metadata filter let %v through", tr["metadata"])
		}
	}
	if got := s.walk(op, "/v1/transfers?metadata.campaign_id="+s.draft, 50); len(got) != 0 {
		t.Errorf("the draft moved money: %v", ids(got, "id"))
	}
	// Faults: 4xx with the field at fault, never 5xx.
	for _, tc := range []struct {
		path, code, field string
	}{
		{"/v1/campaigns?state=open", "validation_failed", "state"},
		{"/v1/campaigns?stat=live", "unknown_parameter", "stat"},
		{"/v1/campaigns?deadline_from=tomorrow", "invalid_parameter", "deadline_from"},
		{"/v1/campaigns?q=%00", "invalid_parameter", "q"},
		{"/v1/campaigns?q=挂", "validation_failed", "q"},
		{"/v1/campaigns?q=%ff", "invalid_parameter", "q"},
		{"/v1/commitments?campaign_id=nope", "invalid_uuid", "campaign_id"},
		{"/v1/commitments?cursor=" + url.QueryEscape("MS41LmZvbw"), "invalid_cursor", "cursor"},
		{"/v1/orders?limit=0", "invalid_parameter", "limit"},
		{"/v1/transfers?kind=sideways", "validation_failed", "kind"},
		{"/v1/transfers?from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z", "validation_failed", "from"},
		{"/v1/parties?list=grey", "validation_failed", "list"},
		{"/v1/freezes?active=yes", "invalid_parameter", "active"},
	} {
		r := v.do(req{method: "GET", path: tc.path, key: reg})
		if r.Status < 400 || r.Status >= 500 || r.str("code") != tc.code || r.str("field") != tc.field {
			t.Errorf("%s: %d %s", tc.path, r.Status, r.Raw)
		}
	}
	if r := v.must(200, req{method: "GET", path: "/v1/campaigns/" + s.live + "/disclosures", key: s.backerKeys[0]}); len(r.Body["items"].([]any)) != 1 {
		t.Errorf("disclosures: %s", r.Raw)
	}
	if r := v.do(req{method: "GET", path: "/v1/campaigns/" + s.draft + "/disclosures", key: s.backerKeys[0]}); r.Status != 404 {
		t.Errorf("a draft's disclosures to an investor: %d", r.Status)
	}
}

func (s *listStory) reversed(in []string) []string {
	out := make([]string, len(in))
	for i, x := range in {
		out[len(in)-1-i] = x
	}
	return out
}
