package api_test

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os/exec"
	"strings"
	"testing"

	"github.com/crowdledger/crowdledger/auth"
)

// TestDumpHoldsNoPersonalData is the attacker with a database dump: after
// people register, are verified, qualified (with income and net worth),
// blacklisted by document, and look themselves up, `pg_dump` of the whole
// database holds none of their names, identity numbers or birth dates, nor
// an unkeyed digest of any of them, nor the income-derived figures of their
// qualification, anywhere: tables, stored answers or audit facts, as text
// or as the hex of a bytea column.
func TestDumpHoldsNoPersonalData(t *testing.T) {
	t.Parallel()
	pgDump, err := exec.LookPath("pg_dump")
	if err != nil {
		t.Skip("no pg_dump on this machine")
	}
	v := newEnv(t)
	op, co, reg := v.key[auth.Operator], v.key[auth.Compliance], v.key[auth.Regulator]
	type person struct{ name, docType, number string }
	people := []person{
		{"隐私测试人", "prc_resident_id", validID(4242)},
		{"Alexandra Quill", "passport", "EQ7319264"},
	}
	var secrets []string
	for _, p := range people {
		id := v.must(201, req{method: "POST", path: "/v1/parties", key: op, body: fmt.Sprintf(
			`{"role":"investor","entity":"individual","jurisdiction":"CN","name":%q,"document":{"type":%q,"number":%q}}`, p.name, p.docType, p.number)}).str("id")
		v.must(200, req{method: "POST", path: "/v1/parties/" + id + "/verification", key: co, body: `{"status":"verified","method":"video-kyc"}`})
		q := v.must(201, req{method: "POST", path: "/v1/parties/" + id + "/qualification", key: co,
			body: `{"pack":"US-REGCF","profile":{"entity":"individual","annual_income":"87654.32","net_worth":"98765.43","risk_answers":[3,3,3,3,3]}}`})
		v.approveQualification(q.str("id"))
		v.must(200, req{method: "GET", path: "/v1/parties/" + id + "/identity?reason=complaint%202026-7", key: reg})
		v.must(200, req{method: "GET", path: "/v1/reports/investors/" + id, key: reg})
		secrets = append(secrets, p.name, p.number, q.str("window_limit"))
		for _, form := range []string{p.number, p.docType + p.number, p.docType + "\x00" + p.number, p.name} {
			s256, s1, m5 := sha256.Sum256([]byte(form)), sha1.Sum([]byte(form)), md5.Sum([]byte(form))
			secrets = append(secrets, hex.EncodeToString(s256[:]), hex.EncodeToString(s1[:]), hex.EncodeToString(m5[:]))
		}
	}
	secrets = append(secrets, people[0].number[6:14], "87654.32", "98765.43") // a birth date, the declared figures
	v.must(201, req{method: "POST", path: "/v1/lists/entries", key: reg, body: fmt.Sprintf(
		`{"list":"black","document":{"type":"prc_resident_id","number":%q},"reason":"失信被执行人","authority":"最高人民法院"}`, validID(4243))})
	secrets = append(secrets, validID(4243))

	out, err := exec.Command(pgDump, "--no-owner", v.db.URL).Output()
	if err != nil {
		t.Fatalf("pg_dump: %v", err)
	}
	dump := strings.ToLower(string(out))
	if !strings.Contains(dump, "copy public.parties") {
		t.Fatalf("the dump has no parties table: %d bytes", len(out))
	}
	for _, s := range secrets {
		if s == "" {
			continue
		}
		// As text, and as pg_dump writes bytea columns: hex.
		if strings.Contains(dump, strings.ToLower(s)) || strings.Contains(dump, hex.EncodeToString([]byte(s))) {
			t.Errorf("the dump holds %q", s)
		}
	}
}
