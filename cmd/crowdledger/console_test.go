package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"
)

// chromium is Debian's Chromium, which `make tools` installs.
const chromium = "/usr/bin/chromium"

// screenshotDir is where the console tests leave a picture of each page
// (git-ignored); docs/console/ keeps the ones the README shows.
var screenshotDir = filepath.Join("..", "..", "out", "console")

// browserTab starts headless Chromium (with the flags this machine's
// closed network needs) and returns a tab. Without Chromium the test is
// skipped, except where the suite must be whole (REQUIRE_DB=1, as in CI).
func browserTab(t *testing.T) (context.Context, context.CancelFunc) {
	t.Helper()
	if _, err := os.Stat(chromium); err != nil {
		if os.Getenv("REQUIRE_DB") == "1" {
			t.Fatalf("%s is missing: make tools installs Debian's chromium", chromium)
		}
		t.Skip("no Chromium: make tools installs it")
	}
	alloc, cancel := chromedp.NewExecAllocator(context.Background(), chromedp.ExecPath(chromium), chromedp.Headless, chromedp.NoSandbox,
		chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck, chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1400, 1000),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-quic", true))
	ctx, cancelTab := chromedp.NewContext(alloc)
	stop := func() { cancelTab(); cancel() }
	t.Cleanup(stop)
	// Every Content-Security-Policy violation the pages cause is kept, for
	// the test to require none.
	err := chromedp.Do(ctx, func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		_, err := cdp.Call(ctx, tg, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{
			Source: `window.__csp = []; document.addEventListener('securitypolicyviolation', e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));`})
		return chromedp.Void{}, err
	})
	if err != nil {
		t.Fatal(err)
	}
	return ctx, stop
}

// consoleSession drives the console in one tab.
type consoleSession struct {
	t    *testing.T
	ctx  context.Context
	base string
}

func (s *consoleSession) do(actions ...chromedp.Action[chromedp.Void]) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(s.ctx, 40*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		s.t.Fatalf("browser: %v", err)
	}
}

// eval evaluates a JavaScript expression (awaiting a promise) and decodes
// its value.
func eval[T any](s *consoleSession, expr string) T {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(s.ctx, 40*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		s.t.Fatalf("evaluate %.120s: %v", expr, err)
	}
	return v
}

// wait polls an expression until it is truthy.
func (s *consoleSession) wait(expr string) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(s.ctx, 40*time.Second)
	defer cancel()
	// An expression that throws (an element not there yet) is not yet true.
	if _, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](`(() => { try { return `+expr+` } catch { return false } })()`,
		chromedp.WithPollingInterval(50*time.Millisecond))); err != nil {
		body, _ := chromedp.Run(s.ctx, chromedp.Evaluate[string](`location.hash + ' ' + document.body.innerText.slice(0, 1500) + ' ' + document.querySelector('main').innerHTML.slice(0, 600)`))
		s.t.Fatalf("waiting for %s: %v\npage: %s", expr, err, body)
	}
}

// shot saves a screenshot of the whole page.
func (s *consoleSession) shot(name string) {
	s.t.Helper()
	png, err := chromedp.Run(s.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		s.t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.MkdirAll(screenshotDir, 0o755); err != nil {
		s.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(screenshotDir, name+".png"), png, 0o644); err != nil {
		s.t.Fatal(err)
	}
}

// route opens a view of the console and waits for its content.
func (s *consoleSession) route(hash, ready string) {
	s.t.Helper()
	s.do(chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`location.hash = %q`, hash)))
	s.wait(ready)
}

func (s *consoleSession) signIn(key string) {
	s.t.Helper()
	s.do(chromedp.Navigate(s.base + "/console/"))
	s.wait(`document.querySelector('#key')`)
	s.do(chromedp.SendKeys(chromedp.ID("key"), key), chromedp.Click(chromedp.CSS("form.signin button")))
	s.wait(`document.querySelector('#campaigns tbody tr td a')`)
}

func (s *consoleSession) signOut() {
	s.t.Helper()
	s.do(chromedp.Click(chromedp.ID("signout")))
	s.wait(`document.querySelector('#key')`)
}

// noPolicyViolations requires that nothing the console did was refused by
// its Content-Security-Policy (an inline style or script would be).
func (s *consoleSession) noPolicyViolations(where string) {
	s.t.Helper()
	if v := eval[[]string](s, `window.__csp`); len(v) > 0 {
		s.t.Errorf("%s: Content-Security-Policy violations: %v", where, v)
	}
}

// keyboardReachesEverything tabs through the page and requires that every
// visible control (links, buttons, fields) takes the focus on the way.
func (s *consoleSession) keyboardReachesEverything(where string) {
	s.t.Helper()
	n := eval[int](s, `(() => {
		const all = [...document.querySelectorAll('a[href], button, input, select, textarea, [tabindex]:not([tabindex="-1"])')]
			.filter(e => !e.disabled && e.getClientRects().length > 0 && getComputedStyle(e).visibility !== 'hidden');
		all.forEach((e, i) => e.dataset.kb = i);
		window.__reached = new Set();
		document.addEventListener('focusin', e => { if (e.target.dataset.kb) window.__reached.add(e.target.dataset.kb) });
		// Start from the top of the page, as a reader arriving does.
		const start = document.createElement('span');
		start.tabIndex = -1;
		start.id = 'kb-start';
		document.body.prepend(start);
		start.focus();
		return all.length;
	})()`)
	// A date field takes a Tab per part (year, month, day): keep tabbing
	// until every control was reached, up to four rounds.
	for round := 0; round < 4 && eval[int](s, `window.__reached.size`) < n; round++ {
		for range n {
			s.do(chromedp.KeyEvent(kb.Tab))
		}
	}
	missed := eval[[]string](s, `(() => { document.getElementById('kb-start').remove();
		return [...document.querySelectorAll('[data-kb]')].filter(e => !window.__reached.has(e.dataset.kb)).map(e => e.tagName + ' ' + (e.id || e.textContent.trim().slice(0, 30))) })()`)
	if n == 0 || len(missed) > 0 {
		s.t.Errorf("%s: the keyboard does not reach %d of %d controls: %v", where, len(missed), n, missed)
	}
}

// contrastHolds computes, for every element that holds text, the contrast
// of its colour against the background it is drawn on (WCAG 2.x relative
// luminance), and requires AA: 4.5:1, or 3:1 for large text.
func (s *consoleSession) contrastHolds(where string) {
	s.t.Helper()
	bad := eval[[]string](s, `(() => {
		const rgb = c => { const m = c.match(/[\d.]+/g).map(Number); return { r: m[0], g: m[1], b: m[2], a: m.length > 3 ? m[3] : 1 }; };
		const lum = ({ r, g, b }) => { const f = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
			return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b); };
		const background = el => { for (let e = el; e; e = e.parentElement) { const c = rgb(getComputedStyle(e).backgroundColor); if (c.a > 0) return c; }
			return { r: 255, g: 255, b: 255, a: 1 }; };
		const out = [];
		for (const el of document.querySelectorAll('body *')) {
			if (!el.getClientRects().length || ['SCRIPT', 'STYLE', 'CANVAS'].includes(el.tagName)) continue;
			const own = [...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim());
			if (!own) continue;
			const st = getComputedStyle(el);
			const fg = rgb(st.color), bg = background(el);
			const L1 = lum(fg), L2 = lum(bg);
			const ratio = (Math.max(L1, L2) + 0.05) / (Math.min(L1, L2) + 0.05);
			const size = parseFloat(st.fontSize), bold = Number(st.fontWeight) >= 700;
			const need = size >= 24 || (bold && size >= 18.66) ? 3 : 4.5;
			if (ratio < need) out.push(el.tagName + ' "' + el.textContent.trim().slice(0, 30) + '" ' + ratio.toFixed(2) + ':1');
		}
		return out;
	})()`)
	if len(bad) > 0 {
		s.t.Errorf("%s: text below WCAG AA contrast: %v", where, bad)
	}
}

// checkConsole drives the console as a regulator and as an investor over
// what the demo made, and checks what they see against the ledger.
func checkConsole(t *testing.T, base, dbURL string, keyFor func(role, subject string) string) {
	ctx, closeBrowser := browserTab(t)
	defer closeBrowser() // before the service stops: its pages hold long polls open
	s := &consoleSession{t: t, ctx: ctx, base: base}
	reg := keyFor("regulator", "csrc-1")
	client := &demoClient{ctx: context.Background(), base: base, http: http.DefaultClient}
	api := func(key, path string) obj {
		t.Helper()
		o, err := client.call("GET", path, key, nil, 200)
		if err != nil {
			t.Fatal(err)
		}
		return o
	}
	post := func(key, path, body string, want int) obj {
		t.Helper()
		o, err := client.call("POST", path, key, json.RawMessage(body), want)
		if err != nil {
			t.Fatal(err)
		}
		return o
	}
	// fen is a balance route's amount held (posted and reserved) in minor units.
	fen := func(account string) int64 {
		b := api(reg, "/v1/accounts/"+account+"/balance")["balances"].(map[string]any)
		d := decimal.RequireFromString(b["credits_posted"].(string)).Sub(decimal.RequireFromString(b["debits_posted"].(string))).
			Add(decimal.RequireFromString(b["credits_pending"].(string)))
		return d.Shift(2).IntPart()
	}

	// A regulator signs in and sees the demo's campaigns.
	s.signIn(reg)
	if n := eval[int](s, `document.querySelectorAll('#campaigns tbody tr').length`); n != 3 {
		t.Errorf("the campaign list shows %d campaigns, want the demo's 3", n)
	}
	s.keyboardReachesEverything("campaigns")
	s.contrastHolds("campaigns")
	s.shot("campaigns")

	// A filter lives in the URL: a shared link opens the same view.
	s.route("#/campaigns?state=settled&kind=equity", `document.querySelector('#f-state').value === 'settled' && document.querySelectorAll('#campaigns tbody tr').length === 1`)

	// One campaign from the list: the reward campaign that paid its issuer.
	s.route("#/campaigns", `document.querySelectorAll('#campaigns tbody tr').length === 3`)
	s.do(chromedp.Click(chromedp.JSPath(`[...document.querySelectorAll('#campaigns a')].find(a => a.textContent.includes('青稞挂面'))`)))
	s.wait(`document.querySelector('#reconcile') && window.location.hash.startsWith('#/campaign/')`)
	id := strings.TrimPrefix(eval[string](s, `location.hash`), "#/campaign/")
	c := api(reg, "/v1/campaigns/"+id)
	escrow, payable := c["escrow_account_id"].(string), c["payable_account_id"].(string)
	// The Sankey's figures, read from the chart itself: every node passes
	// on what it receives, and what it shows the escrow and the payable
	// holding is the ledger's balance, to the fen.
	s.wait(`import('/console/vendor/charts.js').then(m => !!m.getInstanceByDom(document.querySelector('#flow-chart')))`)
	links := eval[[]struct {
		Source, Target string
		Value          int64
	}](s, `import('/console/vendor/charts.js').then(m => m.getInstanceByDom(document.querySelector('#flow-chart')).getOption().series[0].links
		.map(l => ({source: l.source, target: l.target, value: l.value})))`)
	in, out := map[string]int64{}, map[string]int64{}
	for _, l := range links {
		in[l.Target] += l.Value
		out[l.Source] += l.Value
	}
	for _, node := range []string{"escrow", "payable"} {
		if in[node] != out[node] {
			t.Errorf("the Sankey's %s receives %d fen and passes on %d", node, in[node], out[node])
		}
	}
	if got, want := in["escrow_held"], fen(escrow); got != want {
		t.Errorf("the Sankey shows the escrow holding %d fen, the ledger %d", got, want)
	}
	if got, want := in["payable_held"], fen(payable); got != want {
		t.Errorf("the Sankey shows the payable holding %d fen, the ledger %d", got, want)
	}
	if in["investors"] != 0 || out["investors"] == 0 || in["platform_fee"] == 0 || in["issuer_wallet"] == 0 || in["refunds"] == 0 {
		t.Errorf("the Sankey misses a flow of the demo's campaign (commitments, fee, disbursements, after-sales refund): %v", links)
	}
	// The table beside it: each account reconciled, at the ledger's balance.
	for _, acct := range []struct{ name, id string }{{"escrow", escrow}, {"payable", payable}} {
		shown := eval[string](s, fmt.Sprintf(`document.querySelector('#reconcile [data-account=%s] [data-field=balance]').textContent`, acct.name))
		if d := decimal.RequireFromString(strings.ReplaceAll(shown, ",", "")); d.Shift(2).IntPart() != fen(acct.id) {
			t.Errorf("the table shows the %s holding %s; the ledger %d fen", acct.name, shown, fen(acct.id))
		}
		if ok := eval[string](s, fmt.Sprintf(`document.querySelector('#reconcile [data-account=%s] [data-field=reconciled]').className`, acct.name)); ok != "ok" {
			t.Errorf("the %s does not reconcile on the page", acct.name)
		}
	}
	s.keyboardReachesEverything("campaign")
	s.contrastHolds("campaign")
	s.shot("campaign")

	// The export: the campaign report's CSV, downloaded as a file, adds up
	// to what the escrow holds.
	dir := t.TempDir()
	s.do(func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		_, err := cdp.Call(ctx, tg, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{Behavior: browser.SetDownloadBehaviorBehaviorAllow, DownloadPath: dir})
		return chromedp.Void{}, err
	})
	s.do(chromedp.Click(chromedp.ID("export-csv")))
	file := filepath.Join(dir, "campaign-"+id+".csv")
	var raw []byte
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if b, err := os.ReadFile(file); err == nil && strings.Contains(string(b), "# end") {
			raw = b
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no CSV downloaded to %s", dir)
		}
	}
	if got, want := csvEscrow(t, raw).Shift(2).IntPart(), fen(escrow); got != want {
		t.Errorf("the exported CSV sums to %d fen, the escrow holds %d", got, want)
	}

	// English, then back.
	s.do(chromedp.Click(chromedp.ID("lang")))
	s.wait(`document.documentElement.lang === 'en' && [...document.querySelectorAll('h3')].some(h => h.textContent === 'Fund flows') && document.querySelector('#reconcile')`)
	s.shot("campaign-en")
	s.do(chromedp.Click(chromedp.ID("lang")))
	s.wait(`document.documentElement.lang === 'zh-CN' && [...document.querySelectorAll('h3')].some(h => h.textContent === '资金流向')`)

	// A spot check drawn and published (双随机、一公开) shows with its results.
	sc := post(reg, "/v1/spot-checks", `{"k":1,"filter":{},"inspectors":["张检查"]}`, 201)["id"].(string)
	post(reg, "/v1/spot-checks/"+sc+"/draw", `{}`, 200)
	post(reg, "/v1/spot-checks/"+sc+"/publish", `{"results":"资金流向与披露一致"}`, 200)
	// A freeze placed from the campaign and lifted, each with its reason.
	s.do(chromedp.Click(chromedp.JSPath(`[...document.querySelectorAll('a')].find(a => a.getAttribute('href').startsWith('#/supervision?target_type=campaign'))`)))
	s.wait(`document.querySelector('#fz-target') && document.querySelector('#fz-target').value === '` + id + `'`)
	s.do(chromedp.SendKeys(chromedp.ID("fz-reason"), "资金流向核查"), chromedp.SendKeys(chromedp.ID("fz-basis"), "《证券法》第170条"),
		chromedp.Click(chromedp.CSS("#freeze-form button")))
	s.wait(`[...document.querySelectorAll('#freezes tbody tr')].some(r => r.textContent.includes('资金流向核查') && r.querySelector('form.inline'))`)
	freezes := api(reg, "/v1/freezes?target_id="+id+"&active=true")["items"].([]any)
	if len(freezes) != 1 {
		t.Fatalf("%d active freezes of the campaign after placing one", len(freezes))
	}
	fid := freezes[0].(map[string]any)["id"].(string)
	if !eval[bool](s, `[...document.querySelectorAll('section table')].some(t => t.textContent.includes('资金流向与披露一致'))`) {
		t.Error("the supervision page does not show the published spot check's results")
	}
	s.keyboardReachesEverything("supervision")
	s.contrastHolds("supervision")
	s.shot("supervision")
	s.do(chromedp.SendKeys(chromedp.ID("lift-"+fid), "核查完毕"), chromedp.Click(chromedp.CSS(`tr[data-freeze="`+fid+`"] form.inline button`)))
	s.wait(`!document.querySelector('tr[data-freeze="` + fid + `"] form.inline')`)
	if n := len(api(reg, "/v1/freezes?target_id="+id+"&active=true")["items"].([]any)); n != 0 {
		t.Errorf("%d active freezes after lifting", n)
	}

	// The audit chain: verified since the latest checkpoint, with the
	// command to verify an export offline.
	s.route("#/audit", `document.querySelector('#verify-status')`)
	if st := eval[string](s, `document.querySelector('#verify-status').className`); !strings.Contains(st, "ok") {
		t.Errorf("the audit page does not show the chain verified: %s", eval[string](s, `document.querySelector('#verification').textContent`))
	}
	if cmd := eval[string](s, `document.querySelector('pre.command').textContent`); !strings.HasPrefix(cmd, "crowdledger audit verify audit.jsonl --public-key ") {
		t.Errorf("offline command: %q", cmd)
	}
	s.keyboardReachesEverything("audit")
	s.contrastHolds("audit")
	s.shot("audit")
	s.route("#/exports", `document.querySelector('#st-account')`)
	s.keyboardReachesEverything("exports")
	s.contrastHolds("exports")
	s.shot("exports")
	// Live: a campaign page open while a backer pledges shows the new
	// figure without a reload (the page follows the event feed).
	op, co := keyFor("operator", "ops-console"), keyFor("compliance", "co-console")
	var backer string
	for _, it := range api(reg, "/v1/campaigns?state=refunded")["items"].([]any) {
		cm := api(reg, "/v1/commitments?campaign_id="+it.(map[string]any)["id"].(string))["items"].([]any)
		backer = cm[0].(map[string]any)["investor_id"].(string)
	}
	post(op, "/v1/parties/"+backer+"/deposits", `{"amount":"100.00","currency":"CNY","bank_reference":"CONSOLE-1"}`, 201)
	now := time.Now().UTC()
	live := post(op, "/v1/campaigns", fmt.Sprintf(`{"issuer_id":%q,"kind":"reward","pack":"CN-2015","currency":"CNY","title":"实时更新","risk_level":1,
		"target":"100.00","fee_rate":"0.05","starts_at":%q,"deadline":%q,"tiers":[{"id":"box","title":"一箱","price":"10.00"}]}`,
		c["issuer_id"], now.Add(-time.Minute).Format(time.RFC3339), now.Add(30*24*time.Hour).Format(time.RFC3339)), 201)["id"].(string)
	post(op, "/v1/campaigns/"+live+"/submit", `{"disclosures":[{"title":"说明","kind":"product_spec","document_hash":"`+strings.Repeat("ab", 32)+`"}]}`, 200)
	post(co, "/v1/campaigns/"+live+"/approve", `{}`, 200)
	s.route("#/campaign/"+live, `document.querySelector('#raised') && document.querySelector('#raised').textContent.startsWith('0.00 /')`)
	post(op, "/v1/campaigns/"+live+"/commitments", fmt.Sprintf(`{"investor_id":%q,"tier":"box","quantity":3}`, backer), 201)
	s.wait(`document.querySelector('#raised').textContent.startsWith('30.00 /') && document.querySelector('#investors').textContent.startsWith('1 /')`)
	s.noPolicyViolations("regulator")

	// An investor: its own commitments only, and no staff pages.
	var investor string
	for _, it := range api(reg, "/v1/commitments?campaign_id="+id)["items"].([]any) {
		investor = it.(map[string]any)["investor_id"].(string)
	}
	own := len(api(reg, "/v1/commitments?investor_id="+investor)["items"].([]any))
	s.signOut()
	s.signIn(keyFor("investor", investor))
	if nav := eval[string](s, `document.querySelector('#nav').textContent`); strings.Contains(nav, "监管") || strings.Contains(nav, "审计") || strings.Contains(nav, "报表") {
		t.Errorf("an investor's navigation offers staff pages: %s", nav)
	}
	s.route("#/mine", `document.querySelector('#mine')`)
	if n := eval[int](s, `document.querySelectorAll('#mine tbody tr').length`); n != own {
		t.Errorf("the investor sees %d commitments of its own, the ledger has %d", n, own)
	}
	s.route("#/campaign/"+id, `document.querySelector('#commitments')`)
	if others := eval[[]string](s, fmt.Sprintf(`[...document.querySelectorAll('#commitments tbody td[title]')].map(td => td.title).filter(x => x !== %q)`, investor)); len(others) > 0 {
		t.Errorf("an investor's campaign page shows others' commitments: %v", others)
	}
	if eval[bool](s, `!!document.querySelector('#flow-chart') || !!document.querySelector('#timeline')`) {
		t.Error("an investor's campaign page shows the fund flows or the audit timeline")
	}
	s.shot("investor")
	for _, staffPage := range []string{"supervision", "audit", "exports"} {
		s.route("#/"+staffPage, `document.querySelector('main .msg.error')`)
	}
	s.noPolicyViolations("investor")
	s.signOut()
	checkLargeCampaign(t, s, reg, dbURL)
}

// checkLargeCampaign grows one campaign to 100,000 commitments and opens
// it: the page asks the server for one page of them and the flows as sums,
// never the whole list. (The clones carry no money, so this runs after the
// ledger's invariants were checked.)
func checkLargeCampaign(t *testing.T, s *consoleSession, key, dbURL string) {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var id string
	if err := conn.QueryRow(ctx, `SELECT campaign_id FROM commitments GROUP BY campaign_id ORDER BY count(*) DESC LIMIT 1`).Scan(&id); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `SET session_replication_role = replica`); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `INSERT INTO commitments SELECT r.* FROM (SELECT * FROM commitments WHERE campaign_id = $1 ORDER BY created_at LIMIT 1) x,
		generate_series(1, 100000) i, LATERAL jsonb_populate_record(NULL::commitments, to_jsonb(x) || jsonb_build_object('id', gen_random_uuid(),
			'idempotency_key', 'grown-' || i, 'pending_transfer', gen_random_uuid(), 'created_at', x.created_at - i * interval '1 second')) r`, id); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `ANALYZE commitments`); err != nil {
		t.Fatal(err)
	}
	s.signIn(key)
	s.do(chromedp.Evaluate[chromedp.Void](`performance.clearResourceTimings()`))
	s.route("#/campaign/"+id, `document.querySelector('#commitments') && document.querySelector('#flows')`)
	if n := eval[int](s, `document.querySelectorAll('#commitments tbody tr').length`); n != 50 {
		t.Errorf("a campaign of 100,000 commitments shows %d rows, want a page of 50", n)
	}
	first := eval[string](s, `document.querySelector('#commitments tbody tr').textContent`)
	s.do(chromedp.Click(chromedp.ID("commitments-next")))
	s.wait(`location.hash.includes('after=') && document.querySelector('#commitments tbody tr') && document.querySelector('#commitments tbody tr').textContent !== ` + fmt.Sprintf("%q", first))
	if n := eval[int](s, `document.querySelectorAll('#commitments tbody tr').length`); n != 50 {
		t.Errorf("the next page shows %d rows", n)
	}
	// What the page fetched: pages and sums, a few tens of kilobytes, where
	// 100,000 commitments would be tens of megabytes.
	fetched := eval[int](s, `performance.getEntriesByType('resource').reduce((n, e) => n + e.decodedBodySize, 0)`)
	if fetched > 1<<20 {
		t.Errorf("opening a campaign of 100,000 commitments fetched %d bytes: %v", fetched,
			eval[[]string](s, `performance.getEntriesByType('resource').filter(e => e.decodedBodySize > 100000).map(e => e.name + ' ' + e.decodedBodySize)`))
	}
	t.Logf("a campaign of 100,000 commitments: two pages fetched %d bytes in all", fetched)
	s.shot("large-campaign")
}

// csvEscrow sums a campaign report's CSV: credits less debits.
func csvEscrow(t *testing.T, raw []byte) decimal.Decimal {
	t.Helper()
	r := csv.NewReader(strings.NewReader(strings.TrimPrefix(string(raw), "\ufeff")))
	r.FieldsPerRecord = -1
	rows, err := r.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	sum := decimal.Zero
	for _, row := range rows[1:] {
		if len(row) < 7 || row[0] == "# end" {
			continue
		}
		switch row[5] {
		case "C":
			sum = sum.Add(decimal.RequireFromString(row[6]))
		case "D":
			sum = sum.Sub(decimal.RequireFromString(row[6]))
		}
	}
	return sum
}
