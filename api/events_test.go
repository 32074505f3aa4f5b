package api_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/crowdledger/crowdledger/auth"
	"github.com/crowdledger/crowdledger/supervision"
)

// feed reads a key's whole event feed from the start (linking the audit
// chain first, as the service's chainer does every 500 ms) and returns the
// events' types in order and the events.
func (s *listStory) feed(key string) ([]string, []map[string]any) {
	s.v.t.Helper()
	s.link()
	var types []string
	var events []map[string]any
	after := "0"
	for i := 0; i < 100; i++ {
		r := s.v.must(200, req{method: "GET", path: "/v1/events?limit=7&after=" + after, key: key})
		items := r.Body["items"].([]any)
		for _, it := range items {
			ev := it.(map[string]any)
			types, events = append(types, ev["type"].(string)), append(events, ev)
		}
		if r.str("next_cursor") == after {
			return types, events
		}
		after = r.str("next_cursor")
	}
	s.v.t.Fatal("the feed does not end")
	return nil, nil
}

// link runs the chainer until every event is linked. An event is linked
// once every transaction older than it has ended, in any database of the
// server: other tests' transactions can hold a round back.
func (s *listStory) link() {
	ctx := context.Background()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if _, err := s.v.trail.Link(ctx); err != nil {
			s.v.t.Fatal(err)
		}
		var unlinked int
		if err := s.v.db.Pool.QueryRow(ctx, `SELECT count(*) FROM audit_events e WHERE NOT EXISTS (SELECT 1 FROM audit_chain c WHERE c.event_seq = e.seq)`).Scan(&unlinked); err != nil {
			s.v.t.Fatal(err)
		}
		if unlinked == 0 {
			return
		}
	}
	s.v.t.Fatal("the audit chain did not catch up in 20 s")
}

func count(types []string, t string) int {
	n := 0
	for _, x := range types {
		if x == t {
			n++
		}
	}
	return n
}

// TestEventFeedShowsEachPartyItsOwn: the feed in commit order, each event
// once, and each party sees what concerns it: an investor its own
// commitment, order and complaint and the campaign's state changes, never
// another investor's; an issuer its campaign's events, not another's.
func TestEventFeedShowsEachPartyItsOwn(t *testing.T) {
	t.Parallel()
	s := newListStory(t)
	regTypes, regEvents := s.feed(s.v.key[auth.Regulator])
	for typ, want := range map[string]int{"campaign.created": 2, "commitment.created": 3, "campaign.live": 1, "campaign.settled": 1,
		"complaint.filed": 1, "freeze.placed": 1} {
		if got := count(regTypes, typ); got != want {
			t.Errorf("regulator sees %d %s, want %d (all: %v)", got, typ, want, regTypes)
		}
	}
	seen := map[string]bool{}
	for _, ev := range regEvents {
		if seen[ev["id"].(string)] {
			t.Errorf("event %s twice", ev["id"])
		}
		seen[ev["id"].(string)] = true
	}
	for i, k := range s.backerKeys {
		types, events := s.feed(k)
		if count(types, "commitment.created") != 1 || count(types, "campaign.settled") != 1 || count(types, "campaign.created") != 0 {
			t.Errorf("backer %d sees %v", i, types)
		}
		for _, ev := range events {
			data := ev["data"].(map[string]any)
			if inv, ok := data["investor_id"]; ok && inv != s.backers[i] {
				t.Errorf("backer %d sees %s of investor %v", i, ev["type"], inv)
			}
		}
		if want := map[bool]int{true: 1, false: 0}[i == 0]; count(types, "complaint.filed") != want {
			t.Errorf("backer %d sees %d complaints", i, count(types, "complaint.filed"))
		}
	}
	issuerTypes, _ := s.feed(s.issuerKey)
	if count(issuerTypes, "commitment.created") != 3 || count(issuerTypes, "campaign.created") != 1 || count(issuerTypes, "freeze.placed") != 0 {
		t.Errorf("issuer sees %v", issuerTypes)
	}
	if otherTypes, _ := s.feed(s.otherKey); count(otherTypes, "campaign.created") != 1 || count(otherTypes, "commitment.created") != 0 {
		t.Errorf("the other issuer sees %v", otherTypes)
	}
	for _, bad := range []string{"after=-1", "after=x", "wait=21", "wait=x", "limit=0", "afterr=1"} {
		if r := s.v.do(req{method: "GET", path: "/v1/events?" + bad, key: s.issuerKey}); r.Status != 400 {
			t.Errorf("%s: %d", bad, r.Status)
		}
	}
}

// TestEventFeedLongPoll: an investor waiting on the feed hears that its
// order shipped, and that it must reconfirm a commitment after a material
// change, as soon as the chainer links the events.
func TestEventFeedLongPoll(t *testing.T) {
	t.Parallel()
	s := newListStory(t)
	v := s.v
	orders := s.walk(s.backerKeys[2], "/v1/orders", 10)
	// after=latest starts at the chain's head: nothing of the past, and a
	// cursor at least as far as the last event the reader could see.
	_, events := s.feed(s.backerKeys[2])
	seen, _ := strconv.ParseInt(strings.TrimPrefix(events[len(events)-1]["id"].(string), "evt_"), 10, 64)
	now := v.must(200, req{method: "GET", path: "/v1/events?after=latest", key: s.backerKeys[2]})
	if cur, _ := strconv.ParseInt(now.str("next_cursor"), 10, 64); len(now.Body["items"].([]any)) != 0 || cur < seen {
		t.Errorf("after=latest answered %s, the reader's last event is %d", now.Raw, seen)
	}
	got := make(chan []string, 1)
	go func() {
		r := v.do(req{method: "GET", path: "/v1/events?wait=10&after=latest", key: s.backerKeys[2]})
		var types []string
		for _, it := range r.Body["items"].([]any) {
			types = append(types, it.(map[string]any)["type"].(string))
		}
		got <- types
	}()
	time.Sleep(200 * time.Millisecond) // the poll is waiting
	v.must(200, req{method: "POST", path: "/v1/orders/" + orders[0]["id"].(string) + "/ship", key: s.issuerKey, body: `{"carrier":"顺丰","tracking":"SF1"}`})
	start := time.Now()
	for {
		s.link()
		select {
		case types := <-got:
			if strings.Join(types, ",") != "order.shipped" {
				t.Errorf("long poll got %v", types)
			}
			goto reconfirm
		case <-time.After(50 * time.Millisecond):
		}
		if time.Since(start) > 10*time.Second {
			t.Fatal("the long poll never answered")
		}
	}
reconfirm:
	// A material change asks every live commitment's investor to reconfirm.
	c := v.liveRewardCampaign(s.issuerKey, s.issuer, "第二批", "100.00", "1500.00", "99.00")
	cm := v.must(201, req{method: "POST", path: "/v1/campaigns/" + c + "/commitments", key: s.backerKeys[1], body: `{"tier":"box","quantity":1}`}).str("id")
	v.must(200, req{method: "POST", path: "/v1/campaigns/" + c + "/amend", key: s.issuerKey, body: `{"target":"200.00","reason":"目标调整"}`})
	types, events := s.feed(s.backerKeys[1])
	told := 0
	for _, ev := range events {
		if ev["type"] == "commitment.reconfirmation_required" && ev["data"].(map[string]any)["commitment_id"] == cm {
			told++
		}
	}
	if told != 1 || count(types, "campaign.material_change") != 1 {
		t.Errorf("backer 1 told %d times to reconfirm: %v", told, types)
	}
	if other, _ := s.feed(s.backerKeys[0]); count(other, "commitment.reconfirmation_required") != 0 {
		t.Errorf("backer 0 told to reconfirm someone else's commitment: %v", other)
	}
}

// TestAlertsAreRaisedOnceToStaffOnly: an alert (here a complaint whose
// acknowledgement deadline passed) is raised as alert.raised once, for
// staff and regulators; neither the complainant it names nor a frozen
// investor hears of supervision through the feed.
func TestAlertsAreRaisedOnceToStaffOnly(t *testing.T) {
	t.Parallel()
	s := newListStory(t)
	ctx := context.Background()
	if _, err := s.v.db.Pool.Exec(ctx, `UPDATE complaints SET ack_due = now() - interval '1 day'`); err != nil {
		t.Fatal(err)
	}
	sup := supervision.New(s.v.db.Pool)
	if n, err := sup.RaiseAlerts(ctx, supervision.DefaultAlertSettings); err != nil || n == 0 {
		t.Fatalf("raised %d alerts: %v", n, err)
	}
	if n, err := sup.RaiseAlerts(ctx, supervision.DefaultAlertSettings); err != nil || n != 0 {
		t.Errorf("raised %d alerts again: %v", n, err)
	}
	_, events := s.feed(s.v.key[auth.Regulator])
	overdue := 0
	for _, ev := range events {
		if ev["type"] == "alert.raised" && ev["data"].(map[string]any)["kind"] == "complaint_ack_overdue" {
			overdue++
		}
	}
	if overdue != 1 {
		t.Errorf("regulator sees %d overdue-complaint alerts, want 1", overdue)
	}
	for i, k := range s.backerKeys {
		types, _ := s.feed(k)
		if count(types, "alert.raised") != 0 || count(types, "freeze.placed") != 0 {
			t.Errorf("backer %d hears of supervision: %v", i, types)
		}
	}
}
