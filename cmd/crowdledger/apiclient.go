package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"sync"

	"github.com/google/uuid"

	"github.com/crowdledger/crowdledger/client"
)

// The demo and the bench speak to the service through the client generated
// from api/openapi.yaml (package client, `make generate`), so every run
// exercises the contract a client integrator builds on. Calls the typed
// client does not cover yet go through demoClient.call.

var typedOnce sync.Map // *demoClient -> *client.ClientWithResponses

// typed is the generated client on the demo's own HTTP client.
func (d *demoClient) typed() *client.ClientWithResponses {
	if c, ok := typedOnce.Load(d); ok {
		return c.(*client.ClientWithResponses)
	}
	c, err := client.NewClientWithResponses(d.base, client.WithHTTPClient(d.http))
	if err != nil {
		panic(err) // only for a base URL that does not parse, which call would refuse too
	}
	actual, _ := typedOnce.LoadOrStore(d, c)
	return actual.(*client.ClientWithResponses)
}

// as authenticates one request with key.
func as(key string) client.RequestEditorFn {
	return func(_ context.Context, r *http.Request) error {
		r.Header.Set("Authorization", "Bearer "+key)
		return nil
	}
}

// newKey is a fresh Idempotency-Key.
func newKey() client.IdempotencyKey { return uuid.NewString() }

// answer checks a typed response's status, with the same error text as
// call gives (the bench classifies errors by it). Every generated response
// has StatusCode and its raw Body.
func answer(method, path string, r interface{ StatusCode() int }, err error, want int) error {
	if err != nil {
		return err
	}
	if got := r.StatusCode(); got != want {
		body := reflect.ValueOf(r).Elem().FieldByName("Body").Bytes()
		return fmt.Errorf("%s %s: got %d, want %d: %s", method, path, got, want, body)
	}
	return nil
}

// typedResult is a typed call's answer, kept for want.
type typedResult struct {
	r   interface{ StatusCode() int }
	err error
}

// got takes a typed call's two results: got(c.OpWithResponse(...)).want(...).
func got[R interface{ StatusCode() int }](r R, err error) typedResult { return typedResult{r, err} }

// want checks the status and returns the JSON answer as obj, for the demo's
// logic that reads a few fields of many answers.
func (t typedResult) want(method, path string, status int) (obj, error) {
	if err := answer(method, path, t.r, t.err, status); err != nil {
		return nil, err
	}
	var o obj
	_ = json.Unmarshal(reflect.ValueOf(t.r).Elem().FieldByName("Body").Bytes(), &o)
	return o, nil
}

// uid is an id the service gave, as the client's UUID.
func uid(s string) uuid.UUID { return uuid.MustParse(s) }

// jsonBody is a request body written as a map, for the client's WithBody calls.
func jsonBody(v any) io.Reader {
	b, _ := json.Marshal(v)
	return bytes.NewReader(b)
}

const jsonCT = "application/json"
