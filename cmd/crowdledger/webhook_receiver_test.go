package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/crowdledger/crowdledger/webhook"
)

// hookReceiver is a real HTTP webhook receiver: it checks every signature
// and keeps each event's body by webhook-id (deliveries may repeat: at
// least once).
type hookReceiver struct {
	t      *testing.T
	srv    *httptest.Server
	secret string
	mu     sync.Mutex
	got    map[string][]byte
	posts  int
	bad    int
}

func newHookReceiver(t *testing.T) *hookReceiver {
	h := &hookReceiver{t: t, got: map[string][]byte{}}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		defer h.mu.Unlock()
		h.posts++
		if err := webhook.Verify(h.secret, r.Header, body, time.Now()); err != nil {
			h.bad++
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		h.got[r.Header.Get("webhook-id")] = body
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(h.srv.Close)
	return h
}

// subscribe subscribes the receiver to every event, as an operator.
func (h *hookReceiver) subscribe(base, key string) string {
	req, _ := http.NewRequest("POST", base+"/v1/webhooks", strings.NewReader(fmt.Sprintf(`{"url":%q}`, h.srv.URL)))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", uuid.NewString())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct{ ID, Secret string }
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != 201 || out.Secret == "" {
		h.t.Fatalf("subscribe: %d %v", resp.StatusCode, err)
	}
	h.mu.Lock()
	h.secret = out.Secret
	h.mu.Unlock()
	return out.ID
}

// feedAfter reads the whole feed and returns the events after the
// subscription's creation, once the chainer has linked it.
func feedAfter(t *testing.T, base, key, subID string) []map[string]any {
	var events []map[string]any
	for after := "0"; ; {
		req, _ := http.NewRequest("GET", base+"/v1/events?limit=500&after="+after, nil)
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var page struct {
			Items      []map[string]any
			NextCursor string `json:"next_cursor"`
		}
		err = json.NewDecoder(resp.Body).Decode(&page)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		events = append(events, page.Items...)
		if page.NextCursor == after {
			break
		}
		after = page.NextCursor
	}
	for i, ev := range events {
		if ev["type"] == "webhook.subscription.create" && ev["objects"].([]any)[0] == subID {
			return events[i+1:]
		}
	}
	return nil
}

// waitForFeed waits until every event of the feed after the subscription
// has been received, and checks each arrived as the feed shows it.
func (h *hookReceiver) waitForFeed(base, key, subID string, within time.Duration) {
	var want []map[string]any
	deadline := time.Now().Add(within)
	for {
		want = feedAfter(h.t, base, key, subID)
		h.mu.Lock()
		missing := 0
		for _, ev := range want {
			if _, ok := h.got[ev["id"].(string)]; !ok {
				missing++
			}
		}
		h.mu.Unlock()
		if len(want) > 0 && missing == 0 {
			break
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("webhook receiver: %d of %d events missing after %s", missing, len(want), within)
		}
		time.Sleep(250 * time.Millisecond)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, ev := range want {
		var sent map[string]any
		if err := json.Unmarshal(h.got[ev["id"].(string)], &sent); err != nil || !reflect.DeepEqual(sent, ev) {
			h.t.Errorf("event %s arrived as %s", ev["id"], h.got[ev["id"].(string)])
		}
	}
	if h.bad > 0 {
		h.t.Errorf("%d deliveries failed their signature check", h.bad)
	}
	h.t.Logf("webhook receiver: %d events, %d deliveries (at least once across the kills)", len(want), h.posts)
}
