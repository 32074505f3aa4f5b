package webhook_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/crowdledger/crowdledger/webhook"
)

// TestSignMatchesTheStandard checks Sign against the example in the
// Standard Webhooks specification and its reference libraries.
func TestSignMatchesTheStandard(t *testing.T) {
	got, err := webhook.Sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek", time.Unix(1614265330, 0), []byte(`{"test": 2432232314}`))
	if err != nil {
		t.Fatal(err)
	}
	if want := "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="; got != want {
		t.Fatalf("Sign = %s, want %s", got, want)
	}
}

func TestVerify(t *testing.T) {
	secret := webhook.NewSecret()
	now := time.Unix(1_800_000_000, 0)
	body := []byte(`{"id":"evt_1"}`)
	sig, _ := webhook.Sign(secret, "evt_1", now, body)
	headers := func(id, ts, sig string) http.Header {
		h := http.Header{}
		h.Set("webhook-id", id)
		h.Set("webhook-timestamp", ts)
		h.Set("webhook-signature", sig)
		return h
	}
	for _, tc := range []struct {
		name string
		h    http.Header
		body string
		at   time.Time
		ok   bool
	}{
		{"as signed", headers("evt_1", "1800000000", sig), string(body), now, true},
		{"among rotated signatures", headers("evt_1", "1800000000", "v1,AAAA "+sig), string(body), now, true},
		{"body changed", headers("evt_1", "1800000000", sig), `{"id":"evt_2"}`, now, false},
		{"id changed", headers("evt_2", "1800000000", sig), string(body), now, false},
		{"replayed later", headers("evt_1", "1800000000", sig), string(body), now.Add(6 * time.Minute), false},
	} {
		err := webhook.Verify(secret, tc.h, []byte(tc.body), tc.at)
		if (err == nil) != tc.ok {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
	if err := webhook.Verify(webhook.NewSecret(), headers("evt_1", "1800000000", sig), body, now); err == nil {
		t.Error("verified under another secret")
	}
}
