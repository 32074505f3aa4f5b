package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/crowdledger/crowdledger/auth"
	"github.com/crowdledger/crowdledger/webhook"
)

// receiver is a webhook endpoint that records what it gets, checks every
// signature, and fails the first failFirst deliveries of each event.
type receiver struct {
	t         testing.TB
	srv       *httptest.Server
	secret    string
	failFirst int
	mu        sync.Mutex
	got       map[string][]byte // event id -> body
	tries     map[string]int
	bad       int
}

func newReceiver(t testing.TB, failFirst int) *receiver {
	r := &receiver{t: t, failFirst: failFirst, got: map[string][]byte{}, tries: map[string]int{}}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		defer r.mu.Unlock()
		if err := webhook.Verify(r.secret, req.Header, body, time.Now()); err != nil {
			r.bad++
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		id := req.Header.Get("webhook-id")
		if r.tries[id]++; r.tries[id] <= r.failFirst {
			http.Error(w, "not now", http.StatusServiceUnavailable)
			return
		}
		r.got[id] = body
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) received() map[string][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string][]byte{}
	for k, v := range r.got {
		out[k] = v
	}
	return out
}

// deliverAll links the chain and dispatches until the receiver has every
// event in ids (or, with none, any event).
func (s *listStory) deliverAll(r *receiver, ids ...string) map[string][]byte {
	s.v.t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		s.link()
		if _, err := s.v.hooks.Dispatch(context.Background()); err != nil {
			s.v.t.Fatal(err)
		}
		got := r.received()
		missing := len(ids) == 0 && len(got) == 0
		for _, id := range ids {
			if _, ok := got[id]; !ok {
				missing = true
			}
		}
		if !missing {
			return got
		}
	}
	s.v.t.Fatalf("received %d events, not all of %v", len(r.received()), ids)
	return nil
}

// TestWebhooksDeliverWhatTheFeedShows: a subscriber receives, signed, each
// event its owner's feed shows after it subscribed, byte for byte as the
// feed gives it, once per event id; a receiver that fails twice gets it on
// the third try; a backer's subscription gets only that backer's events.
func TestWebhooksDeliverWhatTheFeedShows(t *testing.T) {
	t.Parallel()
	v := newEnv(t)
	op := v.key[auth.Operator]
	staffHook := newReceiver(t, 2)
	sub := v.must(201, req{method: "POST", path: "/v1/webhooks", key: op, body: fmt.Sprintf(`{"url":%q}`, staffHook.srv.URL)})
	staffHook.secret = sub.str("secret")
	if !strings.HasPrefix(staffHook.secret, "whsec_") {
		t.Fatalf("secret: %s", sub.Raw)
	}
	// The story runs after the subscription: every one of its events is sent.
	s := newListStoryOn(t, v)
	backerHook := newReceiver(t, 0)
	bsub := v.must(201, req{method: "POST", path: "/v1/webhooks", key: s.backerKeys[2], body: fmt.Sprintf(`{"url":%q,"types":["order.*","commitment.*"]}`, backerHook.srv.URL)})
	backerHook.secret = bsub.str("secret")
	orders := s.walk(s.backerKeys[2], "/v1/orders", 10)
	v.must(200, req{method: "POST", path: "/v1/orders/" + orders[0]["id"].(string) + "/ship", key: s.issuerKey, body: `{"carrier":"顺丰","tracking":"SF2"}`})
	other := s.walk(s.backerKeys[1], "/v1/orders", 10)
	v.must(200, req{method: "POST", path: "/v1/orders/" + other[0]["id"].(string) + "/ship", key: s.issuerKey, body: `{"carrier":"顺丰","tracking":"SF3"}`})

	_, feed := s.feed(op)
	var want []map[string]any
	for _, ev := range feed {
		var pos int
		fmt.Sscanf(ev["id"].(string), "evt_%d", &pos)
		if ev["type"] == "webhook.subscription.create" && ev["objects"].([]any)[0] == sub.str("id") || len(want) > 0 {
			want = append(want, ev)
		}
	}
	var wantIDs []string
	for _, ev := range want[1:] { // the subscription's own creation is before it
		wantIDs = append(wantIDs, ev["id"].(string))
	}
	got := s.deliverAll(staffHook, wantIDs...)
	for _, ev := range want[1:] {
		body, ok := got[ev["id"].(string)]
		if !ok {
			t.Errorf("event %s (%s) not delivered", ev["id"], ev["type"])
			continue
		}
		var sent map[string]any
		if err := json.Unmarshal(body, &sent); err != nil || fmt.Sprint(sent) != fmt.Sprint(ev) {
			t.Errorf("event %s delivered as %s, the feed has %v", ev["id"], body, ev)
		}
	}
	if staffHook.bad != 0 {
		t.Errorf("%d deliveries with a bad signature", staffHook.bad)
	}
	// The backer's hook: its own shipment, nothing of backer 1's.
	bgot := s.deliverAll(backerHook)
	for id, body := range bgot {
		if !strings.Contains(string(body), `"order.shipped"`) || !strings.Contains(string(body), s.backers[2]) {
			t.Errorf("backer's hook got %s: %s", id, body)
		}
	}
	if len(bgot) != 1 {
		t.Errorf("backer's hook got %d events", len(bgot))
	}
	// River records a completion shortly after the receiver's 2xx.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		ds := v.must(200, req{method: "GET", path: "/v1/webhooks/" + sub.str("id") + "/deliveries?state=completed&limit=500", key: op})
		n := len(ds.Body["items"].([]any))
		if n == len(staffHook.received()) {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("%d completed deliveries listed, %d received", n, len(staffHook.received()))
			break
		}
	}
	if r := v.do(req{method: "GET", path: "/v1/webhooks/" + sub.str("id") + "/deliveries", key: s.backerKeys[2]}); r.Status != 404 {
		t.Errorf("another owner's deliveries: %d", r.Status)
	}
	if r := v.must(200, req{method: "GET", path: "/v1/webhooks", key: s.backerKeys[2]}); len(r.Body["items"].([]any)) != 1 || strings.Contains(string(r.Raw), "whsec_") {
		t.Errorf("backer's subscriptions: %s", r.Raw)
	}
	for _, bad := range []string{`{"url":"ftp://x"}`, `{"url":"https://user:pw@x.example"}`, `{"url":"/relative"}`, `{"url":"https://x.example","types":[""]}`} {
		if r := v.do(req{method: "POST", path: "/v1/webhooks", key: op, body: bad}); r.Status != 422 {
			t.Errorf("%s: %d", bad, r.Status)
		}
	}
}

// TestWebhookDeadLetterAndRedelivery: a receiver that always fails makes a
// dead letter after the attempts run out (3 in tests, 45 in service);
// redelivering it once the receiver is back delivers it, with the same
// webhook-id. A disabled subscription gets nothing more.
func TestWebhookDeadLetterAndRedelivery(t *testing.T) {
	t.Parallel()
	v := newEnv(t)
	op := v.key[auth.Operator]
	down := newReceiver(t, 1_000_000)
	sub := v.must(201, req{method: "POST", path: "/v1/webhooks", key: op, body: fmt.Sprintf(`{"url":%q,"types":["freeze.placed"]}`, down.srv.URL)})
	down.secret = sub.str("secret")
	s := &listStory{v: v}
	target := v.party("investor", "individual", "prc_resident_id", validID(600), "冻结对象")
	v.must(201, req{method: "POST", path: "/v1/freezes", key: v.key[auth.Regulator], body: `{"target_type":"party","target_id":"` + target + `","reason":"调查","legal_basis":"反洗钱法"}`})
	deliveries := "/v1/webhooks/" + sub.str("id") + "/deliveries"
	var dead []any
	for deadline := time.Now().Add(60 * time.Second); len(dead) == 0; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no dead letter: %s", v.must(200, req{method: "GET", path: deliveries, key: op}).Raw)
		}
		s.link()
		v.hooks.Dispatch(context.Background()) //nolint:errcheck
		dead = v.must(200, req{method: "GET", path: deliveries + "?state=discarded", key: op}).Body["items"].([]any)
	}
	d := dead[0].(map[string]any)
	if d["attempts"] != float64(3) || !strings.Contains(d["last_error"].(string), "503") {
		t.Errorf("dead letter: %v", d)
	}
	down.mu.Lock()
	down.failFirst = 0
	down.mu.Unlock()
	v.must(200, req{method: "POST", path: fmt.Sprintf("%s/%d/redeliver", deliveries, int(d["id"].(float64))), key: op})
	got := s.deliverAll(down, d["event_id"].(string))
	if _, ok := got[d["event_id"].(string)]; !ok {
		t.Errorf("redelivered under another id: %v", got)
	}
	if r := v.do(req{method: "POST", path: fmt.Sprintf("%s/%d/redeliver", deliveries, 999999), key: op}); r.Status != 404 {
		t.Errorf("redelivering what is not there: %d", r.Status)
	}
	v.must(200, req{method: "POST", path: "/v1/webhooks/" + sub.str("id") + "/disable", key: op})
	v.must(201, req{method: "POST", path: "/v1/freezes", key: v.key[auth.Regulator], body: `{"target_type":"party","target_id":"` + target + `","reason":"再查","legal_basis":"反洗钱法"}`})
	s.link()
	if n, err := v.hooks.Dispatch(context.Background()); err != nil || n != 0 {
		t.Errorf("dispatched %d to a disabled subscription: %v", n, err)
	}
}

// TestWebhookDispatchWithNoSubscriber: with nobody subscribed the
// dispatcher moves its cursor to the chain's head without reading the
// events; a subscription made afterwards still gets every event after its
// own creation, and none from before.
func TestWebhookDispatchWithNoSubscriber(t *testing.T) {
	t.Parallel()
	v := newEnv(t)
	op := v.key[auth.Operator]
	s := &listStory{v: v}
	target := v.party("investor", "individual", "prc_resident_id", validID(601), "无人订阅")
	freeze := `{"target_type":"party","target_id":"` + target + `","reason":"调查","legal_basis":"反洗钱法"}`
	v.must(201, req{method: "POST", path: "/v1/freezes", key: v.key[auth.Regulator], body: freeze})
	s.link()
	if n, err := v.hooks.Dispatch(context.Background()); err != nil || n != 0 {
		t.Fatalf("dispatched %d with nobody subscribed: %v", n, err)
	}
	var cursor, head int64
	ctx := context.Background()
	if err := v.db.Pool.QueryRow(ctx, `SELECT (SELECT pos FROM webhook_dispatch), (SELECT max(pos) FROM audit_chain)`).Scan(&cursor, &head); err != nil {
		t.Fatal(err)
	}
	if cursor != head || head == 0 {
		t.Fatalf("cursor %d, chain head %d", cursor, head)
	}
	hook := newReceiver(t, 0)
	sub := v.must(201, req{method: "POST", path: "/v1/webhooks", key: op, body: fmt.Sprintf(`{"url":%q,"types":["freeze.placed"]}`, hook.srv.URL)})
	hook.secret = sub.str("secret")
	v.must(201, req{method: "POST", path: "/v1/freezes", key: v.key[auth.Regulator], body: freeze})
	got := s.deliverAll(hook)
	if len(got) != 1 {
		t.Fatalf("the subscriber got %d events, want the one freeze after it subscribed", len(got))
	}
	for id, body := range got {
		var pos int64
		fmt.Sscanf(id, "evt_%d", &pos)
		if pos <= head || !strings.Contains(string(body), `"freeze.placed"`) {
			t.Errorf("delivered %s (%s), the chain's head before subscribing was %d", id, body, head)
		}
	}
}
