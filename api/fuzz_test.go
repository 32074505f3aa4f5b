package api

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/crowdledger/crowdledger/internal/money"
	"github.com/crowdledger/crowdledger/ledger"
)

// FuzzDecodeTransfer feeds arbitrary bodies through strict decoding and the
// conversion to a ledger request. It must never panic, and whatever it
// refuses must be refused as a client error with a code.
func FuzzDecodeTransfer(f *testing.F) {
	for _, s := range []string{
		`{"kind":"posted","debit_account_id":"0190b0a4-0000-7000-8000-000000000001","credit_account_id":"0190b0a4-0000-7000-8000-000000000002","amount":"12.50","currency":"CNY","code":"deposit"}`,
		`{"kind":"pending","amount":"1e9","currency":"JPY","timeout_seconds":-1}`,
		`{"kind":"post_pending","pending_id":"0190b0a4-0000-7000-8000-000000000003","amount":"0.001"}`,
		`{"transfers":[{"kind":"posted"}]}`,
		`{"metadata":{"a":[1,2,{"b":null}]}}`,
		`[`, `{"kind":1}`, `{"x":1}`, ``, `null`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var one transferRequest
		if err := decodeBytes(body, &one); err != nil {
			assertClientError(t, err)
		} else if tr, err := one.toLedger(""); err != nil {
			assertClientError(t, err)
		} else {
			_ = tr
		}
		var batch batchRequest
		if err := decodeBytes(body, &batch); err != nil {
			assertClientError(t, err)
		}
	})
}

func assertClientError(t *testing.T, err error) {
	t.Helper()
	p := toProblem(err)
	if p.Status < 400 || p.Status >= 500 || p.Code == "" || p.Code == "internal" {
		t.Fatalf("error %v maps to %d %q, want a 4xx with a code", err, p.Status, p.Code)
	}
	var fe *ledger.FieldError
	if errors.As(err, &fe) && fe.Field == "" {
		t.Fatalf("field error without a field: %v", err)
	}
	if _, err := json.Marshal(p); err != nil {
		t.Fatal(err)
	}
}

// FuzzDecodeBodies feeds arbitrary bytes to every other request body type:
// decoding never panics and refuses only with client errors.
func FuzzDecodeBodies(f *testing.F) {
	for _, s := range []string{`{"issuer_id":"x","kind":"reward","tiers":[{"id":"a","price":"1.00"}]}`, `{"shares":3}`, `{"tier":"a","quantity":1}`,
		`{"role":"investor","document":{"type":"prc_resident_id","number":"11010519491231002X"}}`, `{"pack":"CN-2015","profile":{"entity":"individual"}}`,
		`{"list":"black","document":{"type":"x","number":"y"}}`, `{"target_type":"party","target_id":"x"}`, `{"seed":1,"k":1,"inspectors":["a"]}`,
		`{"amount":"1.00","currency":"CNY","bank_reference":"r"}`, `{"disclosures":[{"title":"t"}]}`, `{"a\u0000":1}`, `[{}]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, dst := range []any{&createCampaignRequest{}, &commitRequest{}, &createPartyRequest{}, &qualifyRequest{}, &listEntryRequest{},
			&freezeRequest{}, &spotCheckRequest{}, &bankMoveRequest{}, &submitRequest{}, &amendRequest{}, &complaintRequest{}, &createKeyRequest{},
			&reconcileRequest{}, &checkRequest{}, &orderActionRequest{}, &distributeRequest{}, &createAccountRequest{}, &resolveRequest{}} {
			if err := decodeBytes(body, dst); err != nil {
				assertClientError(t, err)
			}
		}
		var q qualifyRequest
		if decodeBytes(body, &q) == nil {
			if _, err := q.Profile.toProfile(money.MustLookup("CNY")); err != nil {
				assertClientError(t, err)
			}
		}
	})
}
