package main

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/crowdledger/crowdledger/audit"
	"github.com/crowdledger/crowdledger/internal/pgtest"
	"github.com/crowdledger/crowdledger/internal/pii"
)

// TestKeyRotation rotates both keys a deployment holds, as an operator
// would, and checks what the rotation must keep: after a new audit signing
// key (the old public key retired into AUDIT_RETIRED_PUBLIC_KEYS) the chain
// still verifies, checkpoints of both keys; after `keys pii --rotate` old
// parties still read and the same identity number still cannot register
// twice; `pii reencrypt` moves everything to the new key, after which the
// old key can leave the ring; and a ring that does not fit the data stops
// the service at start with the reason.
func TestKeyRotation(t *testing.T) {
	db := pgtest.NewDB(t)
	addr := freeAddr(t)
	ringFile := filepath.Join(t.TempDir(), "pii.keys")
	lookup := pii.NewKey()
	writeRing := func(ring string) {
		if err := os.WriteFile(ringFile, []byte(ring+"\n"+lookup+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	writeRing("k1:" + pii.NewKey())
	seedA, _ := audit.GenerateSeed()
	env := map[string]string{"DATABASE_URL": db.URL, "LISTEN_ADDR": addr, "LOG_LEVEL": "warn", "AUDIT_SIGNING_KEY": seedA,
		"AUDIT_CHAIN_INTERVAL": "20ms", "AUDIT_CHECKPOINT_EVERY": "1", "PII_KEYS_FILE": ringFile}
	getenv := func(k string) string { return env[k] }
	ctx := context.Background()
	cli := func(args ...string) (string, error) {
		var out bytes.Buffer
		err := run(ctx, append([]string{"crowdledger"}, args...), getenv, &out)
		return out.String(), err
	}
	must := func(args ...string) string {
		t.Helper()
		out, err := cli(args...)
		if err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
		return out
	}
	must("migrate")
	keyOf := func(out string) string { return keyIn(t, out) }
	op := keyOf(must("keys", "create", "--role", "operator", "--subject", "ops-1"))
	co := keyOf(must("keys", "create", "--role", "compliance", "--subject", "co-1"))
	reg := keyOf(must("keys", "create", "--role", "regulator", "--subject", "reg-1"))
	d := &demoClient{ctx: ctx, base: "http://" + addr, http: &http.Client{Timeout: 5 * time.Second}}

	serve := func() (stop func()) {
		t.Helper()
		srvCtx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() {
			done <- run(srvCtx, []string{"crowdledger", "serve"}, asService(getenv, db.AppURL), &bytes.Buffer{})
		}()
		for i := 0; ; i++ {
			if r, err := http.Get(d.base + "/readyz"); err == nil && r.StatusCode == 200 {
				r.Body.Close()
				break
			}
			select {
			case err := <-done:
				t.Fatalf("serve stopped: %v", err)
			default:
			}
			if i > 200 {
				t.Fatal("service did not become ready")
			}
			time.Sleep(25 * time.Millisecond)
		}
		return func() { cancel(); <-done }
	}
	call := func(method, path, key string, body any, want int) obj {
		t.Helper()
		o, err := d.call(method, path, key, body, want)
		if err != nil {
			t.Fatal(err)
		}
		return o
	}
	verified := func(minCheckpoints int) obj {
		t.Helper()
		var o obj
		for range 200 { // the chainer signs within a few intervals
			o = call("GET", "/v1/audit/verify", reg, nil, 200)
			if o["ok"] == true && o["checkpoints_checked"].(float64) >= float64(minCheckpoints) {
				return o
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Fatalf("audit chain does not verify with %d checkpoints: %v", minCheckpoints, o)
		return nil
	}

	// Before: a party and a qualification sealed under k1, checkpoints under key A.
	stop := serve()
	doc := newResidentID()
	party := str(call("POST", "/v1/parties", op, obj{"role": "investor", "entity": "individual", "jurisdiction": "CN", "name": "轮换",
		"document": obj{"type": "prc_resident_id", "number": doc}}, 201), "id")
	call("POST", "/v1/parties/"+party+"/qualification", co, obj{"pack": "CN-2015",
		"profile": obj{"entity": "individual", "financial_assets": "2000000.00", "risk_answers": []int{4, 4, 4, 4, 4}, "investment_years": 5, "exits": 2}}, 201)
	checkpointsA := int(verified(1)["checkpoints_checked"].(float64))
	stop()

	// Rotate both: a new signing key B with A retired, a new ring key k2.
	pubA := strings.Fields(must("audit", "pubkey"))[1]
	seedB, _ := audit.GenerateSeed()
	env["AUDIT_SIGNING_KEY"], env["AUDIT_RETIRED_PUBLIC_KEYS"] = seedB, pubA
	rotated := strings.Split(strings.TrimSpace(must("keys", "pii", "--rotate")), "\n")
	if len(rotated) != 2 || !strings.HasPrefix(rotated[0], "k2:") || rotated[1] != lookup {
		t.Fatalf("keys pii --rotate: %q", rotated)
	}
	writeRing(rotated[0])
	stop = serve()
	if p := call("GET", "/v1/parties/"+party, op, nil, 200); str(p, "id") != party {
		t.Errorf("old party after the rotation: %v", p)
	}
	dup, _ := d.call("POST", "/v1/parties", op, obj{"role": "investor", "entity": "individual", "jurisdiction": "CN", "name": "重复",
		"document": obj{"type": "prc_resident_id", "number": doc}}, 409)
	if str(dup, "code") != "party_exists" {
		t.Errorf("the same identity number registered twice after the rotation: %v", dup)
	}
	call("POST", "/v1/parties", op, obj{"role": "investor", "entity": "individual", "jurisdiction": "CN", "name": "新人",
		"document": obj{"type": "prc_resident_id", "number": newResidentID()}}, 201)
	verified(checkpointsA + 1) // checkpoints of A (retired) and of B
	stop()

	// Re-encrypt, then drop k1 from the ring.
	out := must("pii", "reencrypt", "--batch", "2")
	if !strings.Contains(out, "under key k2") || strings.Contains(out, "re-encrypted 0 ") {
		t.Errorf("pii reencrypt: %s", out)
	}
	if again := must("pii", "reencrypt"); !strings.Contains(again, "re-encrypted 0 ") {
		t.Errorf("a second run found work left: %s", again)
	}
	writeRing(strings.SplitN(rotated[0], ",", 2)[0])
	stop = serve()
	call("GET", "/v1/parties/"+party, op, nil, 200)
	call("GET", "/v1/parties/"+party+"/qualifications", co, nil, 200)
	stop()

	// Rings that do not fit stop the service at start, saying why.
	for name, ring := range map[string]string{"a key the data lacks": "k3:" + pii.NewKey(), "another key under the same id": "k2:" + pii.NewKey()} {
		writeRing(ring)
		if _, err := cli("serve"); err == nil || !strings.Contains(err.Error(), "PII_KEYS") {
			t.Errorf("%s: serve said %v", name, err)
		}
	}
	writeRing(strings.SplitN(rotated[0], ",", 2)[0])
	lookup = pii.NewKey()
	writeRing(strings.SplitN(rotated[0], ",", 2)[0])
	if _, err := cli("serve"); err == nil || !strings.Contains(err.Error(), "PII_LOOKUP_KEY") {
		t.Errorf("a new lookup key: serve said %v", err)
	}
}
