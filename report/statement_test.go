package report_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"

	"github.com/crowdledger/crowdledger/audit"
	"github.com/crowdledger/crowdledger/internal/export"
	"github.com/crowdledger/crowdledger/internal/money"
	"github.com/crowdledger/crowdledger/internal/pgtest"
	"github.com/crowdledger/crowdledger/internal/pii"
	"github.com/crowdledger/crowdledger/ledger"
	"github.com/crowdledger/crowdledger/registry"
	"github.com/crowdledger/crowdledger/report"
)

type fixture struct {
	ledger        *ledger.Ledger
	rep           *report.Reporter
	db            *pgtest.DB
	bank, w1, esc uuid.UUID
	ctx           context.Context
}

func newFixture(t testing.TB) *fixture {
	db := pgtest.NewDB(t)
	l := ledger.New(db.Pool, ledger.Options{Freezes: ledger.NoFreezes{}})
	t.Cleanup(l.Close)
	keys, err := pii.ParseKeyring("k1:"+pii.NewKey(), pii.NewKey())
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{ledger: l, rep: report.New(db.Pool, l, registry.New(db.Pool, keys)), db: db,
		ctx: audit.WithActor(context.Background(), audit.Actor{KeyID: uuid.New(), Role: "regulator"}, "t")}
	mk := func(code ledger.AccountCode, flags ledger.Flags) uuid.UUID {
		a, _, err := l.CreateAccount(f.ctx, ledger.NewAccount{Currency: money.MustLookup("CNY"), Code: code, Flags: flags, IdempotencyKey: uuid.NewString(),
			Owner: "party:" + uuid.NewString()})
		if err != nil {
			t.Fatal(err)
		}
		return a.ID
	}
	f.bank = mk(ledger.CodeCustodyBank, ledger.Flags{})
	f.w1 = mk(ledger.CodeInvestorWallet, ledger.Flags{DebitsMustNotExceedCredits: true})
	f.esc = mk(ledger.CodeCampaignEscrow, ledger.Flags{})
	return f
}

func (f *fixture) post(t testing.TB, kind ledger.Kind, from, to uuid.UUID, amt, code string, meta string) ledger.Transfer {
	a, _ := money.Parse("CNY", amt)
	e, err := f.ledger.Submit(f.ctx, uuid.NewString(), []ledger.TransferRequest{{Kind: kind, DebitAccountID: from, CreditAccountID: to, Amount: a, Code: code,
		Metadata: json.RawMessage(meta)}})
	if err != nil {
		t.Fatal(err)
	}
	return e.Transfers[0]
}

func schemaPath(t testing.TB) string {
	p, _ := filepath.Abs("../../shared/iso20022/camt.053.001.08.xsd")
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("the camt.053 schema is not at %s (CI has ../shared beside the repository): %v", p, err)
	}
	return p
}

// TestStatementFormats: the same account history as JSON, CSV and camt.053;
// the camt.053 validates against the ISO 20022 schema with xmllint, the CSV
// parses back to the ledger's totals, and the JSON's closing balance is the
// account's.
func TestStatementFormats(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	start := time.Now().Add(-time.Second)
	f.post(t, ledger.KindPosted, f.bank, f.w1, "1000.00", "deposit", `{"bank_reference":"ICBC-1"}`)
	p := f.post(t, ledger.KindPending, f.w1, f.esc, "250.50", "commitment", fmt.Sprintf(`{"campaign_id":%q,"commitment_id":%q}`, uuid.New(), uuid.New()))
	if _, err := f.ledger.Submit(f.ctx, uuid.NewString(), []ledger.TransferRequest{{Kind: ledger.KindPostPending, PendingID: p.ID}}); err != nil {
		t.Fatal(err)
	}
	f.post(t, ledger.KindPosted, f.w1, f.bank, "100.25", "withdrawal", `{"note":"<提现> & \"quotes\""}`)
	end := time.Now().Add(time.Second)

	var js bytes.Buffer
	if err := f.rep.Statement(f.ctx, &js, f.w1, start, end, report.JSON); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Opening string `json:"opening_balance"`
		Closing string `json:"closing_balance"`
		Entries []map[string]any
	}
	if err := json.Unmarshal(js.Bytes(), &doc); err != nil {
		t.Fatalf("json: %v\n%s", err, js.String())
	}
	if doc.Opening != "0.00" || doc.Closing != "649.25" || len(doc.Entries) != 4 {
		t.Errorf("json statement: opening %s closing %s, %d entries", doc.Opening, doc.Closing, len(doc.Entries))
	}

	var cs bytes.Buffer
	if err := f.rep.Statement(f.ctx, &cs, f.w1, start, end, report.CSV); err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(cs.Bytes(), []byte("\ufeff")) || !bytes.Contains(cs.Bytes(), []byte("\r\n")) {
		t.Error("csv lacks the UTF-8 BOM or CRLF line ends")
	}
	r := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(cs.Bytes(), []byte("\ufeff"))))
	r.FieldsPerRecord = -1
	recs, err := r.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	debits, credits := decimal.Zero, decimal.Zero
	if rows, err := export.Check(cs.Bytes()); err != nil || rows != 4 {
		t.Errorf("csv trailer: %d rows, %v", rows, err)
	}
	if rows, err := export.Check(js.Bytes()); err != nil || rows != 4 {
		t.Errorf("json trailer: %d rows, %v", rows, err)
	}
	if recs[0][0] != "seq" || recs[1][3] != "opening_balance" || recs[len(recs)-2][3] != "closing_balance" {
		t.Errorf("csv: header %v, first row %v, last row %v: want the header first, then the opening balance, the entries and the closing balance", recs[0], recs[1], recs[len(recs)-2])
	}
	for _, rec := range recs[2 : len(recs)-2] { // after the header and opening rows, before the closing row and the trailer
		if rec[1] == "" || !strings.HasSuffix(rec[1], "Z") {
			t.Errorf("booked_at %q is not an ISO 8601 UTC time", rec[1])
		}
		if rec[0+1] == "" || rec[3] == "pending" {
			continue // a reservation: it moves no posted money
		}
		amt := decimal.RequireFromString(rec[6])
		if rec[5] == "D" {
			debits = debits.Add(amt)
		} else {
			credits = credits.Add(amt)
		}
	}
	acct, _ := f.ledger.Account(f.ctx, f.w1)
	if !debits.Equal(acct.Balances.DebitsPosted.Decimal()) || !credits.Equal(acct.Balances.CreditsPosted.Decimal()) {
		t.Errorf("csv totals D %s C %s, ledger D %s C %s", debits, credits, acct.Balances.DebitsPosted, acct.Balances.CreditsPosted)
	}

	var xml bytes.Buffer
	if err := f.rep.Statement(f.ctx, &xml, f.w1, start, end, report.Camt053); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "statement.xml")
	os.WriteFile(file, xml.Bytes(), 0o644)
	out, err := exec.Command("xmllint", "--noout", "--schema", schemaPath(t), file).CombinedOutput()
	if err != nil {
		t.Fatalf("camt.053 does not validate: %v\n%s\n%s", err, out, xml.String())
	}
	if rows, err := export.Check(xml.Bytes()); err != nil || rows != 4 {
		t.Errorf("camt.053 trailer: %d rows, %v", rows, err)
	}
	if !strings.Contains(xml.String(), `<Cd>CLBD</Cd></CdOrPrtry></Tp><Amt Ccy="CNY">649.25</Amt>`) {
		t.Errorf("closing balance missing from camt.053:\n%s", xml.String())
	}
	var reads int
	f.db.Pool.QueryRow(f.ctx, `SELECT count(*) FROM audit_events WHERE action = 'report.statement' AND actor_role = 'regulator'`).Scan(&reads)
	if reads != 3 {
		t.Errorf("%d audited report requests, want 3", reads)
	}
	if err := f.rep.Statement(f.ctx, &xml, f.w1, start, end, "pdf"); err == nil {
		t.Error("unknown format accepted")
	}
}

// TestStatementCSVNeutralisesFormulas: text a client put in a transfer's
// metadata reaches the statement's cells; a spreadsheet must not run it.
func TestStatementCSVNeutralisesFormulas(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	start := time.Now().Add(-time.Second)
	f.post(t, ledger.KindPosted, f.bank, f.w1, "10.00", "deposit", `{"campaign_id":"=HYPERLINK(\"http://evil\",\"x\")","commitment_id":"@SUM(A1)"}`)
	var cs bytes.Buffer
	if err := f.rep.Statement(f.ctx, &cs, f.w1, start, time.Now().Add(time.Second), report.CSV); err != nil {
		t.Fatal(err)
	}
	r := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(cs.Bytes(), []byte("\ufeff"))))
	r.FieldsPerRecord = -1
	recs, err := r.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	for _, rec := range recs {
		for _, cell := range rec {
			if cell != "" && strings.ContainsRune("=+@", rune(cell[0])) {
				t.Errorf("cell %q would run as a formula", cell)
			}
		}
	}
	if !bytes.Contains(cs.Bytes(), []byte(`'=HYPERLINK`)) || !bytes.Contains(cs.Bytes(), []byte(`'@SUM(A1)`)) {
		t.Errorf("the metadata's text is not in the statement, neutralised: %s", cs.Bytes())
	}
}

// TestCamtEscapesWhatClientsWrote: a transfer's metadata is a client's
// text, and it reaches the regulator's camt.053 (EndToEndId, AddtlTxInf).
// Markup, characters XML cannot carry, and text longer than the schema's
// Max35Text (cut by characters, not bytes) leave a statement that still
// validates and still says what was written.
func TestCamtEscapesWhatClientsWrote(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	start := time.Now().Add(-time.Second)
	long := strings.Repeat("众", 40) // 120 bytes, 40 characters: a cut at byte 35 would split one
	f.post(t, ledger.KindPosted, f.bank, f.w1, "10.00", "deposit", `{"commitment_id":"</EndToEndId><Evil/>&amp;","campaign_id":"x]]><!--\u0001"}`)
	f.post(t, ledger.KindPosted, f.bank, f.w1, "1.00", "deposit", `{"commitment_id":"`+long+`"}`)
	var out bytes.Buffer
	if err := f.rep.Statement(f.ctx, &out, f.w1, start, time.Now().Add(time.Second), report.Camt053); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "statement.xml")
	os.WriteFile(file, out.Bytes(), 0o644)
	if msg, err := exec.Command("xmllint", "--noout", "--schema", schemaPath(t), file).CombinedOutput(); err != nil {
		t.Fatalf("camt.053 with a client's markup does not validate: %v\n%s\n%s", err, msg, out.String())
	}
	for _, want := range []string{`&lt;/EndToEndId&gt;&lt;Evil/&gt;&amp;amp;`, "<EndToEndId>" + strings.Repeat("众", 35) + "</EndToEndId>"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("statement lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "<Evil/>") {
		t.Error("a client's markup became an element")
	}
	if _, err := export.Check(out.Bytes()); err != nil {
		t.Error(err)
	}
	// A statement cut anywhere is detectable by its trailer.
	for _, n := range []int{out.Len() / 3, out.Len() - 80, out.Len() - 1} {
		if _, err := export.Check(out.Bytes()[:n]); err == nil {
			t.Errorf("a statement cut at byte %d of %d passes its check", n, out.Len())
		}
	}
}
