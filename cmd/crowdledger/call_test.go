package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	"github.com/google/uuid"
)

// call is a plain HTTP request for the tests that check the HTTP itself
// (a database restart, key rotation, traces); the demo and the bench go
// through the generated client.
func (d *demoClient) call(method, path, key string, body any, want int) (obj, error) {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(d.ctx, method, d.base+path, rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+key)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if method == http.MethodPost {
		req.Header.Set("Idempotency-Key", uuid.NewString())
	}
	resp, err := d.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var o obj
	_ = json.Unmarshal(raw, &o)
	if resp.StatusCode != want {
		return o, fmt.Errorf("%s %s: got %d, want %d: %s", method, path, resp.StatusCode, want, raw)
	}
	return o, nil
}
