package main

import (
	"context"
	"fmt"
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
