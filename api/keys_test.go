package api_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/crowdledger/crowdledger/auth"
)

// TestKeyIssuanceMatrix asks for every role's key with every role's key and
// checks the answer against the written policy: the route lets operators and
// compliance officers in, and auth.MayIssue decides the rest. No role can mint
// operator or regulator keys through the API, and a compliance key is only
// ever a grant.
func TestKeyIssuanceMatrix(t *testing.T) {
	t.Parallel()
	v := newEnv(t)
	party := map[auth.Role]string{
		auth.Investor: v.party("investor", "individual", "prc_resident_id", validID(701), "钥匙投资人"),
		auth.Issuer:   v.party("issuer", "institution", "prc_uscc", "91350100M000100Y43", "钥匙发行人"),
	}
	type want struct {
		status int
		code   string
	}
	matrix := map[auth.Role]map[auth.Role]want{
		auth.Operator:   {auth.Investor: {201, ""}, auth.Issuer: {201, ""}, auth.Compliance: {403, "issuance_refused"}, auth.Operator: {403, "issuance_refused"}, auth.Regulator: {403, "issuance_refused"}},
		auth.Compliance: {auth.Investor: {201, ""}, auth.Issuer: {201, ""}, auth.Compliance: {202, ""}, auth.Operator: {403, "issuance_refused"}, auth.Regulator: {403, "issuance_refused"}},
		auth.Issuer:     {auth.Investor: {403, "forbidden"}, auth.Issuer: {403, "forbidden"}, auth.Compliance: {403, "forbidden"}, auth.Operator: {403, "forbidden"}, auth.Regulator: {403, "forbidden"}},
		auth.Investor:   {auth.Investor: {403, "forbidden"}, auth.Issuer: {403, "forbidden"}, auth.Compliance: {403, "forbidden"}, auth.Operator: {403, "forbidden"}, auth.Regulator: {403, "forbidden"}},
		auth.Regulator:  {auth.Investor: {403, "forbidden"}, auth.Issuer: {403, "forbidden"}, auth.Compliance: {403, "forbidden"}, auth.Operator: {403, "forbidden"}, auth.Regulator: {403, "forbidden"}},
	}
	for _, asking := range auth.Roles() {
		for _, minting := range auth.Roles() {
			w := matrix[asking][minting]
			t.Run(fmt.Sprintf("%s mints %s", asking, minting), func(t *testing.T) {
				subject := "staff-new-" + string(minting)
				if minting.Scoped() {
					subject = party[minting]
				}
				got := v.do(req{method: "POST", path: "/v1/keys", key: v.key[asking],
					body: fmt.Sprintf(`{"role":%q,"subject":%q,"name":"matrix"}`, minting, subject)})
				if got.Status != w.status || (w.code != "" && got.str("code") != w.code) {
					t.Fatalf("%d %s, want %d %s: %s", got.Status, got.str("code"), w.status, w.code, got.Raw)
				}
				switch got.Status {
				case 201: // the key works, as the role asked for
					if who := v.do(req{method: "GET", path: "/v1/parties/" + subject, key: got.str("key")}); who.Status != 200 {
						t.Errorf("the new %s key cannot read its own party: %d", minting, who.Status)
					}
				case 202:
					if got.str("state") != "pending" || got.str("key") != "" {
						t.Errorf("a grant carries no key: %s", got.Raw)
					}
				}
			})
		}
	}
}

// TestNobodyGrantsThemselves: maker-checker compares people (a key's
// subject), not keys. One person holding several keys, of one role or of
// two, can neither approve their own request for a compliance key, nor ask
// for a key held by themselves, nor check a campaign they made.
func TestNobodyGrantsThemselves(t *testing.T) {
	t.Parallel()
	v := newEnv(t)
	staff := func(role auth.Role, person string) string {
		_, tok, err := v.keys.Create(context.Background(), role, person, "test", nil)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	alice1, alice2, aliceOps := staff(auth.Compliance, "alice"), staff(auth.Compliance, "alice"), staff(auth.Operator, "alice")
	bob := staff(auth.Compliance, "bob")

	// Asking for a key held by oneself, under either of one's keys.
	for _, k := range []string{alice1, alice2} {
		got := v.must(403, req{method: "POST", path: "/v1/keys", key: k, body: `{"role":"compliance","subject":"alice","name":"again"}`})
		if got.str("code") != "maker_checker" {
			t.Errorf("self grant: %s", got.Raw)
		}
	}
	// A grant for carol, asked for by alice: neither of alice's keys may
	// approve it, and carol (once she has a key) may not approve her own.
	g := v.must(202, req{method: "POST", path: "/v1/keys", key: alice1, body: `{"role":"compliance","subject":"carol","name":"carol"}`})
	grant := g.str("id")
	if g.str("requested_by") != "staff:alice" {
		t.Errorf("requested_by %q", g.str("requested_by"))
	}
	list := v.must(200, req{method: "GET", path: "/v1/key-grants", key: bob})
	if n := len(list.Body["items"].([]any)); n != 1 {
		t.Errorf("%d pending grants, want 1", n)
	}
	carol := staff(auth.Compliance, "carol") // as if an administrator had made her one on the host
	for name, k := range map[string]string{"alice's first key": alice1, "alice's second key": alice2, "carol herself": carol} {
		got := v.do(req{method: "POST", path: "/v1/key-grants/" + grant + "/approve", key: k})
		if got.Status != 403 || got.str("code") != "maker_checker" {
			t.Errorf("%s approved: %d %s", name, got.Status, got.Raw)
		}
	}
	if got := v.do(req{method: "POST", path: "/v1/key-grants/" + grant + "/approve", key: aliceOps}); got.Status != 403 {
		t.Errorf("an operator approved a compliance grant: %d", got.Status)
	}
	ok := v.must(201, req{method: "POST", path: "/v1/key-grants/" + grant + "/approve", key: bob})
	if ok.str("subject") != "carol" || ok.str("role") != "compliance" || ok.str("key") == "" {
		t.Errorf("approved: %s", ok.Raw)
	}
	if again := v.do(req{method: "POST", path: "/v1/key-grants/" + grant + "/approve", key: staff(auth.Compliance, "dave")}); again.Status != 409 {
		t.Errorf("approved twice: %d %s", again.Status, again.Raw)
	}

	// A campaign made under any of pat's operator keys cannot be checked under
	// any of pat's compliance keys; another person may.
	issuer := v.party("issuer", "institution", "prc_uscc", "91350100M000100Y43", "自审发行人")
	makers := []string{staff(auth.Operator, "pat"), staff(auth.Operator, "pat")}
	checkers := []string{staff(auth.Compliance, "pat"), staff(auth.Compliance, "pat")}
	now := *v.clock.Load()
	for i, maker := range makers {
		c := v.must(201, req{method: "POST", path: "/v1/campaigns", key: maker, body: fmt.Sprintf(`{"issuer_id":%q,"kind":"reward","pack":"CN-2015",
			"currency":"CNY","title":"自审 %d","risk_level":1,"target":"1000.00","hard_cap":"1000.00","fee_rate":"0.05",
			"tiers":[{"id":"t","title":"t","price":"10.00"}],"starts_at":%q,"deadline":%q}`,
			issuer, i, now.Add(-time.Minute).Format(time.RFC3339), now.Add(30*24*time.Hour).Format(time.RFC3339))})
		id := c.str("id")
		v.must(200, req{method: "POST", path: "/v1/campaigns/" + id + "/submit", key: maker,
			body: `{"disclosures":[{"title":"产品说明","kind":"product_spec","document_hash":"` + strings.Repeat("ab", 32) + `"}]}`})
		for j, checker := range checkers {
			for action, body := range map[string]string{"approve": "", "reject": `{"reason":"x"}`} {
				got := v.do(req{method: "POST", path: "/v1/campaigns/" + id + "/" + action, key: checker, body: body})
				if got.Status != 403 || got.str("code") != "maker_checker" {
					t.Errorf("pat's operator key %d, compliance key %d: %s answered %d %s", i, j, action, got.Status, got.Raw)
				}
			}
		}
		v.must(200, req{method: "POST", path: "/v1/campaigns/" + id + "/approve", key: bob})
	}
}

// TestCampaignVisibility: a draft, a campaign under review and a rejected
// one (with its reasons) are seen by their issuer and the platform only;
// once approved, by every role.
func TestCampaignVisibility(t *testing.T) {
	t.Parallel()
	v := newEnv(t)
	issuer := v.party("issuer", "institution", "prc_uscc", "91350100M000100Y43", "可见性发行人")
	other := v.party("issuer", "institution", "other", "REG-OTHER-1", "别家发行人")
	mine, theirs := v.keyFor(auth.Issuer, issuer), v.keyFor(auth.Issuer, other)
	now := *v.clock.Load()
	c := v.must(201, req{method: "POST", path: "/v1/campaigns", key: mine, body: fmt.Sprintf(`{"issuer_id":%q,"kind":"reward","pack":"CN-2015",
		"currency":"CNY","title":"草稿","risk_level":1,"target":"1000.00","hard_cap":"1000.00","fee_rate":"0.05",
		"tiers":[{"id":"t","title":"t","price":"10.00"}],"starts_at":%q,"deadline":%q}`,
		issuer, now.Add(-time.Minute).Format(time.RFC3339), now.Add(30*24*time.Hour).Format(time.RFC3339))})
	path := "/v1/campaigns/" + c.str("id")
	sees := func(stage string, want map[string]bool) {
		t.Helper()
		for who, key := range map[string]string{"issuer": mine, "another issuer": theirs, "investor": v.key[auth.Investor],
			"operator": v.key[auth.Operator], "compliance": v.key[auth.Compliance], "regulator": v.key[auth.Regulator]} {
			got := v.do(req{method: "GET", path: path, key: key})
			if (got.Status == 200) != want[who] || (got.Status != 200 && got.Status != 404) {
				t.Errorf("%s: %s got %d, want visible %v", stage, who, got.Status, want[who])
			}
		}
	}
	private := map[string]bool{"issuer": true, "operator": true, "compliance": true, "regulator": true}
	sees("draft", private)
	submit := `{"disclosures":[{"title":"产品说明","kind":"product_spec","document_hash":"` + strings.Repeat("ab", 32) + `"}]}`
	v.must(200, req{method: "POST", path: path + "/submit", key: mine, body: submit})
	sees("submitted", private)
	// The red list's reward: once the issuer is on it, staff see its
	// submitted campaign marked for expedited review; its issuer does not.
	if r := v.must(200, req{method: "GET", path: path, key: v.key[auth.Compliance]}); r.Body["expedited_review"] != nil {
		t.Errorf("expedited before the red list: %s", r.Raw)
	}
	v.must(201, req{method: "POST", path: "/v1/lists/entries", key: v.key[auth.Regulator],
		body: fmt.Sprintf(`{"list":"red","party_id":%q,"reason":"守信企业","authority":"省发改委"}`, issuer)})
	if r := v.must(200, req{method: "GET", path: path, key: v.key[auth.Compliance]}); r.Body["expedited_review"] != true {
		t.Errorf("a red-listed issuer's campaign is not expedited: %s", r.Raw)
	}
	if r := v.must(200, req{method: "GET", path: path, key: mine}); r.Body["expedited_review"] != nil {
		t.Errorf("the issuer sees the review flag: %s", r.Raw)
	}
	v.must(200, req{method: "POST", path: path + "/reject", key: v.key[auth.Compliance], body: `{"reason":"资质不全"}`})
	sees("rejected", private)
	v.must(200, req{method: "POST", path: path + "/submit", key: mine, body: submit})
	v.must(200, req{method: "POST", path: path + "/approve", key: v.key[auth.Compliance]})
	sees("live", map[string]bool{"issuer": true, "another issuer": true, "investor": true, "operator": true, "compliance": true, "regulator": true})
}
