package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/google/uuid"

	"github.com/crowdledger/crowdledger/client"
)

// bench drives a running service over HTTP like real clients: it sets up
// investors and campaigns through the API, runs a scenario for a duration
// with a number of concurrent clients, prints progress, and ends with a
// table: operations per second, latency percentiles, errors by type, and the
// service's peak RSS (from its /metrics, sampled every five seconds). With --pgbench-url it also runs
// pgbench's tpcb-like load (same clients, same server) and prints the ratio.
//
//	hot     thousands of investors committing to ONE live campaign
//	spread  commitments across many campaigns
//	mixed   80% commitments, 10% cooling-off cancellations, 5% deposits, 5% regulator reads
//	ledger  raw ledger transfers through the operator API
//	equity  qualified followers committing shares to ONE equity campaign after its lead
//	        (at most 150 followers: the issuer's 200-investor cap holds)
func bench(ctx context.Context, args []string, getenv func(string) string, out io.Writer) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	url := fs.String("url", "http://localhost:8080", "the running service")
	key := fs.String("key", getenv("CROWDLEDGER_KEY"), "an operator key (or CROWDLEDGER_KEY)")
	co := fs.String("compliance-key", getenv("CROWDLEDGER_COMPLIANCE_KEY"), "a compliance key held by another person (or CROWDLEDGER_COMPLIANCE_KEY)")
	regKey := fs.String("regulator-key", getenv("CROWDLEDGER_REGULATOR_KEY"), "a regulator key, for the mixed scenario's reads")
	scenario := fs.String("scenario", "hot", "hot, spread, mixed, ledger or equity")
	clients := fs.Int("clients", 64, "concurrent clients")
	duration := fs.Duration("duration", 30*time.Second, "how long to run")
	investors := fs.Int("investors", 1000, "investors to set up")
	campaigns := fs.Int("campaigns", 1000, "campaigns for the spread scenario")
	pgURL := fs.String("pgbench-url", "", "run pgbench (tpcb-like, -s 10) against this database URL in the same sitting")
	prefill := fs.Int64("prefill", 0, "operations to run before measuring (a campaign that has grown)")
	settle := fs.Duration("settle", 0, "wait this long after setting up (and any prefill) before measuring: the database's own background work after a burst, autovacuum's, falls outside the figures")
	postmaster := fs.Int("postmaster-pid", 0, "the PID of a PostgreSQL on this box (the first line of its postmaster.pid): print its processes' CPU per operation")
	follow := fs.Bool("follow-events", false, "follow the event feed (long polls, as the operator) during the run and report how far behind the commits it is")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *key == "" || *co == "" {
		return errors.New("bench needs an operator key and a compliance key held by two people: --key and --compliance-key")
	}
	b := &bencher{demoClient: &demoClient{ctx: ctx, base: strings.TrimRight(*url, "/"), op: *key, co: *co, out: out, wait: time.Hour,
		http: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: *clients * 2}}}, reg: *regKey,
		postmaster: *postmaster}
	if *scenario == "mixed" && b.reg == "" {
		return errors.New("the mixed scenario needs --regulator-key (crowdledger keys create --role regulator)")
	}
	fmt.Fprintf(out, "setting up %s: %d investors", *scenario, *investors)
	if err := b.setup(*scenario, *investors, *campaigns); err != nil {
		return fmt.Errorf("setup: %w", err)
	}
	fmt.Fprintf(out, " ... done\n")
	if *prefill > 0 {
		fmt.Fprintf(out, "prefilling %d %s operations\n", *prefill, *scenario)
		b.limit = *prefill
		b.run(*scenario, *clients, 24*time.Hour).print(out)
		b.limit = 0
	}
	if *settle > 0 {
		fmt.Fprintf(out, "settling for %s\n", *settle)
		select {
		case <-time.After(*settle):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	fmt.Fprintf(out, "running %s for %s with %d clients\n", *scenario, *duration, *clients)
	var lags chan []time.Duration
	stopFollowing := make(chan struct{})
	if *follow {
		after, err := b.feedHead()
		if err != nil {
			return fmt.Errorf("event feed: %w", err)
		}
		lags = make(chan []time.Duration, 1)
		go func() { lags <- b.followEvents(after, stopFollowing) }()
	}
	res := b.run(*scenario, *clients, *duration)
	res.print(out)
	if lags != nil {
		time.Sleep(2 * time.Second) // the last commits' events reach the feed
		close(stopFollowing)
		printLags(out, <-lags)
	}
	if *pgURL != "" {
		tps, err := pgbench(ctx, *pgURL, *clients, *duration)
		if err != nil {
			return fmt.Errorf("pgbench: %w", err)
		}
		fmt.Fprintf(out, "pgbench tpcb-like (-s 10, -c %d -j 2 -M prepared, %s): %.0f TPS\n", *clients, *duration, tps)
		fmt.Fprintf(out, "ratio: %s %.0f ops/s ÷ pgbench %.0f TPS = %.2fx\n", *scenario, res.opsPerSec(), tps, res.opsPerSec()/tps)
	}
	return nil
}

type bencher struct {
	*demoClient
	reg       string
	ack       string // the CN risk disclosure letter's hash, for equity commitments
	issuer    string
	issuerKey string
	invs      []benchInvestor
	campaigns []string
	accounts  []string // ledger scenario: source and target accounts
	nextRef   atomic.Int64
	limit     int64 // stop after this many operations (0: run for the duration)
	// postmaster, when set, is a local PostgreSQL whose processes' CPU
	// each run reports (benchpg.go).
	postmaster int
}

type benchInvestor struct {
	id, key string
}

func (b *bencher) setup(scenario string, investors, campaigns int) error {
	if scenario == "ledger" {
		bank, err := got(b.typed().CreateAccountWithBodyWithResponse(b.ctx, &client.CreateAccountParams{IdempotencyKey: newKey()}, jsonCT, jsonBody(obj{"currency": "CNY", "code": "custody_bank"}), as(b.op))).want("POST", "/v1/accounts", 201)
		if err != nil {
			return err
		}
		b.accounts = append(b.accounts, str(bank, "id"))
		for i := 0; i < 64; i++ {
			a, err := got(b.typed().CreateAccountWithBodyWithResponse(b.ctx, &client.CreateAccountParams{IdempotencyKey: newKey()}, jsonCT, jsonBody(obj{"currency": "CNY", "code": "campaign_escrow"}), as(b.op))).want("POST", "/v1/accounts", 201)
			if err != nil {
				return err
			}
			b.accounts = append(b.accounts, str(a, "id"))
		}
		return nil
	}
	saved := b.out
	b.out = io.Discard // quiet while registering thousands of parties
	defer func() { b.out = saved }()
	var err error
	if b.issuer, err = b.party("issuer", "压测发行人"); err != nil {
		return err
	}
	if b.issuerKey, err = b.key("issuer", b.issuer); err != nil {
		return err
	}
	n := 1
	if scenario == "spread" {
		n = campaigns
	}
	if scenario == "mixed" {
		n = 10
	}
	if scenario == "equity" {
		return b.setupEquity(min(investors, maxEquityFollowers))
	}
	var mu sync.Mutex
	errs := parallel(16, n, func(i int) error {
		c, err := b.launchBench()
		mu.Lock()
		b.campaigns = append(b.campaigns, c)
		mu.Unlock()
		return err
	})
	if errs != nil {
		return errs
	}
	b.invs = make([]benchInvestor, investors)
	return parallel(16, investors, func(i int) error {
		p, err := b.party("investor", fmt.Sprint("压测投资人", i))
		if err != nil {
			return err
		}
		if err := b.deposit(p, "1000000.00", "BENCH-"+uuid.NewString()[:12]); err != nil {
			return err
		}
		k, err := b.key("investor", p)
		b.invs[i] = benchInvestor{id: p, key: k}
		return err
	})
}

// maxEquityFollowers keeps the equity scenario's investors (and its lead)
// under CN-2015's 200 investors per issuer.
const maxEquityFollowers = 150

// setupEquity registers and qualifies a lead and followers (CN-2015, as a
// compliance officer would), opens one equity campaign with that lead, and
// commits the lead's 10% first, as the lead-first rule requires.
func (b *bencher) setupEquity(followers int) error {
	lead, err := b.qualifiedInvestor("压测领投人", "5000000.00")
	if err != nil {
		return err
	}
	id, err := b.open(obj{"kind": "equity", "title": "压测股权项目", "risk_level": 5, "target": "100000.00", "min_ticket": "1.00",
		"price_per_share": "1.00", "fee_rate": "0.03", "lead_investor_id": lead.id})
	if err != nil {
		return err
	}
	b.campaigns = []string{id}
	if b.ack, err = b.riskDisclosure(lead.key, "CN-2015"); err != nil {
		return err
	}
	if _, err := b.commit(lead.key, id, obj{"shares": 10000, "risk_disclosure": b.ack}, 201); err != nil {
		return fmt.Errorf("the lead's commitment: %w", err)
	}
	b.invs = make([]benchInvestor, followers)
	return parallel(16, followers, func(i int) error {
		var err error
		b.invs[i], err = b.qualifiedInvestor(fmt.Sprint("压测跟投人", i), "2000000.00")
		return err
	})
}

// qualifiedInvestor registers an investor, qualifies it under CN-2015 (as
// a compliance officer would), funds its wallet and gives it a key.
func (b *bencher) qualifiedInvestor(name, assets string) (benchInvestor, error) {
	p, err := b.party("investor", name)
	if err != nil {
		return benchInvestor{}, err
	}
	if _, err := b.qualify(p, assets); err != nil {
		return benchInvestor{}, err
	}
	if err := b.deposit(p, "1000000.00", "BENCH-"+uuid.NewString()[:12]); err != nil {
		return benchInvestor{}, err
	}
	k, err := b.key("investor", p)
	return benchInvestor{id: p, key: k}, err
}

func (b *bencher) launchBench() (string, error) {
	return b.open(obj{"kind": "reward", "title": "压测活动", "risk_level": 1, "target": "1000.00", "fee_rate": "0.05",
		"tiers": []obj{{"id": "unit", "title": "一份", "price": "1.00"}}})
}

// open creates, submits and approves a CN-2015 CNY campaign of the bench's
// issuer, open for a day with no practical cap, from spec's own terms.
func (b *bencher) open(spec obj) (string, error) {
	now := time.Now().UTC()
	spec["issuer_id"], spec["pack"], spec["currency"], spec["hard_cap"] = b.issuer, "CN-2015", "CNY", "999999999.00"
	spec["starts_at"], spec["deadline"] = now.Add(-time.Second).Format(time.RFC3339Nano), now.Add(24*time.Hour).Format(time.RFC3339Nano)
	c, err := got(b.typed().CreateCampaignWithBodyWithResponse(b.ctx, &client.CreateCampaignParams{IdempotencyKey: newKey()}, jsonCT, jsonBody(spec), as(b.issuerKey))).want("POST", "/v1/campaigns", 201)
	if err != nil {
		return "", err
	}
	id := str(c, "id")
	if _, err := got(b.typed().SubmitCampaignWithBodyWithResponse(b.ctx, uid(id), &client.SubmitCampaignParams{IdempotencyKey: newKey()}, jsonCT, jsonBody(obj{"disclosures": []obj{{
		"title": "说明", "kind": "business_plan", "document_hash": strings.Repeat("ab", 32)}}}), as(b.issuerKey))).want("POST", "/v1/campaigns/"+id+"/submit", 200); err != nil {
		return "", err
	}
	_, err = got(b.typed().ApproveCampaignWithResponse(b.ctx, uid(id), &client.ApproveCampaignParams{IdempotencyKey: newKey()}, as(b.co))).want("POST", "/v1/campaigns/"+id+"/approve", 200)
	return id, err
}

func parallel(workers, n int, fn func(i int) error) error {
	var wg sync.WaitGroup
	var first error
	var mu sync.Mutex
	next := atomic.Int64{}
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := fn(i); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
					return
				}
			}
		}()
	}
	wg.Wait()
	return first
}

type benchResult struct {
	elapsed time.Duration
	lat     []time.Duration
	errors  map[string]int
	peakRSS float64
	// CPU spent during the run: the service's (from its /metrics) and the
	// whole machine's (from /proc/stat, when the service runs on this box).
	// Per operation, they compare changes more steadily than ops/s on a
	// machine whose speed drifts between runs.
	svcCPU            float64
	machine, machine0 cpuTimes
	// The bench's own CPU (its HTTP client): part of the whole machine's,
	// printed so the service's and the database's share can be told from
	// the load generator's.
	selfCPU float64
	// The database's processes' CPU by kind (backends, autovacuum,
	// background), when the bench was given the postmaster's PID.
	pgCPU map[string]float64
}

func (r *benchResult) opsPerSec() float64 { return float64(len(r.lat)) / r.elapsed.Seconds() }

func (r *benchResult) pct(p float64) time.Duration {
	if len(r.lat) == 0 {
		return 0
	}
	return r.lat[min(len(r.lat)-1, int(float64(len(r.lat))*p))]
}

func (r *benchResult) print(out io.Writer) {
	sort.Slice(r.lat, func(i, j int) bool { return r.lat[i] < r.lat[j] })
	fmt.Fprintf(out, "\n%-12s %10s %10s %10s %10s %10s %10s %12s\n", "ops", "ops/s", "p50", "p95", "p99", "max", "errors", "peak RSS")
	nerr := 0
	for _, n := range r.errors {
		nerr += n
	}
	fmt.Fprintf(out, "%-12d %10.0f %10s %10s %10s %10s %10d %10.0fMB\n", len(r.lat), r.opsPerSec(), r.pct(0.5).Round(time.Microsecond*100),
		r.pct(0.95).Round(time.Microsecond*100), r.pct(0.99).Round(time.Microsecond*100), r.pct(1).Round(time.Microsecond*100), nerr, r.peakRSS/1e6)
	for k, n := range r.errors {
		fmt.Fprintf(out, "  error %-40s %d\n", k, n)
	}
	if ops := float64(len(r.lat)); ops > 0 && r.svcCPU > 0 {
		fmt.Fprintf(out, "cpu per op: service %.0f µs", r.svcCPU/ops*1e6)
		if d := r.machine.sub(r.machine0); d.total > 0 {
			fmt.Fprintf(out, ", whole machine %.0f µs busy (idle %.0f%%, steal %.0f%%)",
				d.busy/ops*1e6, 100*d.idle/d.total, 100*d.steal/d.total)
			if r.selfCPU > 0 {
				fmt.Fprintf(out, ", of which this bench's client %.0f µs", r.selfCPU/ops*1e6)
			}
		}
		fmt.Fprintln(out)
	}
	if ops := float64(len(r.lat)); ops > 0 && r.pgCPU != nil {
		fmt.Fprintf(out, "cpu per op, database: backends %.0f µs, autovacuum %.0f µs, background %.0f µs (processes alive at the end)\n",
			r.pgCPU[pgBackends]/ops*1e6, r.pgCPU[pgAutovacuum]/ops*1e6, r.pgCPU[pgBackground]/ops*1e6)
	}
}

// cpuTimes are the machine's CPU seconds from /proc/stat's first line.
type cpuTimes struct{ busy, idle, steal, total float64 }

func (a cpuTimes) sub(b cpuTimes) cpuTimes {
	return cpuTimes{a.busy - b.busy, a.idle - b.idle, a.steal - b.steal, a.total - b.total}
}

// machineCPU reads /proc/stat (Linux); zero elsewhere. Fields after "cpu":
// user nice system idle iowait irq softirq steal ..., in USER_HZ (100/s).
func machineCPU() cpuTimes {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return cpuTimes{}
	}
	line, _, _ := strings.Cut(string(data), "\n")
	return parseCPULine(line)
}

func parseCPULine(line string) cpuTimes {
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return cpuTimes{}
	}
	v := make([]float64, 8)
	for i := range v {
		v[i], _ = strconv.ParseFloat(f[i+1], 64)
		v[i] /= 100
	}
	idle := v[3] + v[4]
	busy := v[0] + v[1] + v[2] + v[5] + v[6]
	return cpuTimes{busy: busy, idle: idle, steal: v[7], total: busy + idle + v[7]}
}

// selfCPU is this process's CPU seconds (user and system) so far.
func selfCPU() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

var (
	rssRE = regexp.MustCompile(`(?m)^process_resident_memory_bytes ([0-9.e+]+)`)
	cpuRE = regexp.MustCompile(`(?m)^process_cpu_seconds_total ([0-9.e+]+)`)
)

// process reads the service's resident memory (bytes) and CPU time
// (seconds) from its /metrics; zero when it cannot.
func (b *bencher) process() (rss, cpu float64) {
	req, _ := http.NewRequestWithContext(b.ctx, "GET", b.base+"/metrics", nil)
	resp, err := b.http.Do(req)
	if err != nil {
		return 0, 0
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, f := range []struct {
		re *regexp.Regexp
		v  *float64
	}{{rssRE, &rss}, {cpuRE, &cpu}} {
		if m := f.re.FindSubmatch(body); m != nil {
			*f.v, _ = strconv.ParseFloat(string(m[1]), 64)
		}
	}
	return rss, cpu
}

func (b *bencher) run(scenario string, clients int, d time.Duration) *benchResult {
	res := &benchResult{errors: map[string]int{}}
	var mu sync.Mutex
	_, cpu0 := b.process()
	res.machine0 = machineCPU()
	pg0 := readPGProcs("/proc", b.postmaster)
	self0 := selfCPU()
	stop := time.Now().Add(d)
	start := time.Now()
	var ops atomic.Int64
	done, progressDone := make(chan struct{}), make(chan struct{})
	go func() { // progress and RSS
		defer close(progressDone)
		// The service's memory is sampled with each progress line, not
		// more often: a scrape of /metrics runs the audit chain's lag
		// query and gathers every metric, and at two a second (forty in a
		// 20 s run, about 5 ms of database time each under load) it was
		// load the bench added and then counted in the CPU per operation.
		// Prometheus scrapes every 15 s or so.
		t := time.NewTicker(500 * time.Millisecond)
		defer t.Stop()
		last, lastOps := time.Now(), int64(0)
		for {
			select {
			case <-done:
				return
			case <-t.C:
				// The rate since the last line too: a long run's slowdowns
				// (checkpoints, a buffer pool outgrown) hide in the average.
				if since := time.Since(last); since >= 5*time.Second {
					// This goroutine is the peak's only writer until it ends.
					rss, _ := b.process()
					res.peakRSS = max(res.peakRSS, rss)
					n, elapsed := ops.Load(), time.Since(start).Seconds()
					fmt.Fprintf(b.out, "  %5.0fs  %8d ops  %7.0f ops/s  (last %.0fs: %.0f ops/s)\n", elapsed, n,
						float64(n)/elapsed, since.Seconds(), float64(n-lastOps)/since.Seconds())
					last, lastOps = time.Now(), n
				}
			}
		}
	}()
	var wg sync.WaitGroup
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(c), 1))
			var mine []string // this client's live commitments, to cancel
			for i := 0; time.Now().Before(stop) && (b.limit == 0 || ops.Load() < b.limit); i++ {
				t0 := time.Now()
				err := b.op1(scenario, c, i, rng, &mine)
				lat := time.Since(t0)
				mu.Lock()
				if err != nil {
					msg := err.Error()
					if m := errCodeRE.FindStringSubmatch(msg); m != nil {
						msg = m[1] + " " + m[2]
						if r := ruleRE.FindStringSubmatch(err.Error()); r != nil {
							msg += " " + r[1]
						}
					} else if len(msg) > 60 {
						msg = msg[:60]
					}
					res.errors[msg]++
				} else {
					res.lat = append(res.lat, lat)
				}
				mu.Unlock()
				ops.Add(1)
			}
		}(c)
	}
	wg.Wait()
	close(done)
	res.elapsed = time.Since(start)
	res.machine = machineCPU()
	if pg1 := readPGProcs("/proc", b.postmaster); pg0 != nil && pg1 != nil {
		res.pgCPU = pg1.since(pg0)
	}
	res.selfCPU = selfCPU() - self0
	rss1, cpu1 := b.process()
	if cpu0 > 0 && cpu1 > cpu0 {
		res.svcCPU = cpu1 - cpu0
	}
	<-progressDone // its last sample is in before this final one
	res.peakRSS = max(res.peakRSS, rss1)
	return res
}

// op1 is one client operation of the scenario.
func (b *bencher) op1(scenario string, c, i int, rng *rand.Rand, mine *[]string) error {
	switch scenario {
	case "ledger":
		from := b.accounts[0]
		to := b.accounts[1+c%(len(b.accounts)-1)]
		_, err := got(b.typed().CreateTransferWithBodyWithResponse(b.ctx, &client.CreateTransferParams{IdempotencyKey: newKey()}, jsonCT, jsonBody(obj{"kind": "posted",
			"debit_account_id": from, "credit_account_id": to, "amount": "0.01", "currency": "CNY", "code": "deposit"}), as(b.op))).want("POST", "/v1/transfers", 201)
		return err
	case "mixed":
		switch p := rng.IntN(100); {
		case p < 10 && len(*mine) > 0:
			id := (*mine)[len(*mine)-1]
			*mine = (*mine)[:len(*mine)-1]
			return b.cancel(id)
		case p < 15:
			inv := b.invs[rng.IntN(len(b.invs))]
			return b.deposit(inv.id, "10.00", fmt.Sprintf("BENCH-%d-%d", c, b.nextRef.Add(1)))
		case p < 20:
			_, err := b.getCampaign(b.campaigns[rng.IntN(len(b.campaigns))], b.reg)
			return err
		}
	}
	inv := b.invs[(c+i*len(b.invs)/7+i)%len(b.invs)]
	camp := b.campaigns[0]
	if scenario == "spread" || scenario == "mixed" {
		camp = b.campaigns[rng.IntN(len(b.campaigns))]
	}
	one, unit := 1, "unit"
	body := client.CommitJSONRequestBody{Tier: &unit, Quantity: &one}
	if scenario == "equity" {
		body = client.CommitJSONRequestBody{Shares: &one, RiskDisclosure: &b.ack}
	}
	id, err := uuid.Parse(camp)
	if err != nil {
		return err
	}
	cm, err := b.typed().CommitWithResponse(b.ctx, id, &client.CommitParams{IdempotencyKey: newKey()}, body, as(inv.key))
	if err := answer("POST", "/v1/campaigns/"+camp+"/commitments", cm, err, 201); err != nil {
		return err
	}
	if scenario == "mixed" {
		*mine = append(*mine, cm.JSON201.Id.String()+"|"+inv.key)
	}
	return nil
}

func (b *bencher) cancel(ref string) error {
	id, key, _ := strings.Cut(ref, "|")
	_, err := got(b.typed().CancelCommitmentWithResponse(b.ctx, uid(id), &client.CancelCommitmentParams{IdempotencyKey: newKey()}, as(key))).want("POST", "/v1/commitments/"+id+"/cancel", 200)
	return err
}

var (
	tpsRE     = regexp.MustCompile(`tps = ([0-9.]+)`)
	errCodeRE = regexp.MustCompile(`got (\d+).*"code":"([a-z_]+)"`)
	ruleRE    = regexp.MustCompile(`"rule_id":"([^"]+)"`)
)

// pgbench runs pgbench's tpcb-like load, scale 10, for comparison.
func pgbench(ctx context.Context, url string, clients int, d time.Duration) (float64, error) {
	if out, err := exec.CommandContext(ctx, "pgbench", "-i", "-s", "10", "-q", url).CombinedOutput(); err != nil {
		return 0, fmt.Errorf("%v: %s", err, out)
	}
	cmd := exec.CommandContext(ctx, "pgbench", "-c", fmt.Sprint(clients), "-j", "2", "-T", fmt.Sprint(int(d.Seconds())), "-M", "prepared", url)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("%v: %s", err, out)
	}
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		if m := tpsRE.FindStringSubmatch(sc.Text()); m != nil {
			return strconv.ParseFloat(m[1], 64)
		}
	}
	return 0, fmt.Errorf("no tps in pgbench output: %s", out)
}

// feedHead walks the event feed to its end and returns the cursor there.
func (b *bencher) feedHead() (string, error) {
	after := "0"
	for {
		page, err := b.events(after, 0)
		if err != nil {
			return "", err
		}
		next, _ := page["next_cursor"].(string)
		if next == after {
			return after, nil
		}
		after = next
	}
}

// followEvents long-polls the feed from after until stop, and returns, for
// each event, how long after it was written it reached this reader: the
// commit, the chainer's next round and the poll.
func (b *bencher) followEvents(after string, stop <-chan struct{}) []time.Duration {
	var lags []time.Duration
	for {
		select {
		case <-stop:
			return lags
		default:
		}
		page, err := b.events(after, 2)
		if err != nil {
			fmt.Fprintf(b.out, "  event feed: %v\n", err)
			time.Sleep(100 * time.Millisecond)
			continue
		}
		now := time.Now()
		items, _ := page["items"].([]any)
		for _, it := range items {
			if at, err := time.Parse(time.RFC3339Nano, fmt.Sprint(it.(obj)["occurred_at"])); err == nil {
				lags = append(lags, now.Sub(at))
			}
		}
		after, _ = page["next_cursor"].(string)
	}
}

func printLags(out io.Writer, lags []time.Duration) {
	if len(lags) == 0 {
		fmt.Fprintln(out, "event feed: no events followed")
		return
	}
	sort.Slice(lags, func(i, j int) bool { return lags[i] < lags[j] })
	at := func(p float64) time.Duration {
		return lags[min(len(lags)-1, int(float64(len(lags))*p))].Round(time.Millisecond)
	}
	fmt.Fprintf(out, "event feed lag (write to reader): %d events, p50 %s, p99 %s, max %s\n", len(lags), at(0.5), at(0.99), at(1))
}

func (b *bencher) getCampaign(id, key string) (obj, error) {
	return got(b.typed().GetCampaignWithResponse(b.ctx, uid(id), as(key))).want("GET", "/v1/campaigns/"+id, 200)
}

// events reads a page of the event feed as the operator, waiting up to wait seconds.
func (b *bencher) events(after string, wait int) (obj, error) {
	limit := 500
	return got(b.typed().ListEventsWithResponse(b.ctx, &client.ListEventsParams{After: &after, Wait: &wait, Limit: &limit}, as(b.op))).
		want("GET", "/v1/events?after="+after, 200)
}
