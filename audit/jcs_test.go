package audit_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"testing"

	"github.com/gowebpki/jcs"
	"github.com/jackc/pgx/v5"

	"github.com/crowdledger/crowdledger/audit"
)

// TestExportRecomputesWithJCS is the regulator without our verifier: for
// every form-2 link of an export, SHA-256 of the previous hash and the
// RFC 8785 form of the exported event (computed here with the JCS library,
// not with the chainer's code) is the link's hash. The facts carry what
// the old form kept as written and JCS rewrites: exponents, trailing
// zeros, markup, members that sort differently by UTF-16 than by bytes.
// An event of form 1 in the same chain still verifies, with our verifier.
func TestExportRecomputesWithJCS(t *testing.T) {
	t.Parallel()
	tr, db := newTrail(t)
	ctx := context.Background()
	facts := `{"z":1,"a":"<b>&</b>","amount":1.50,"big":1e2,"é":"x","\ud83d\ude00":"emoji","€":"euro","nested":{"y":[1,2.0,"三"],"b":true}}`
	// One event from before v2 (form 1), as the migration left them.
	if _, err := db.Pool.Exec(ctx, `INSERT INTO audit_events (actor_role, action, facts, canon) VALUES ('system', 'legacy.event', $1::jsonb, 1)`, facts); err != nil {
		t.Fatal(err)
	}
	for _, action := range []string{"test.one", "test.two", "test.three"} {
		ev, err := audit.New(ctx, action, []string{"obj-1"}, json.RawMessage(facts))
		if err != nil {
			t.Fatal(err)
		}
		if err := pgx.BeginFunc(ctx, db.Pool, func(tx pgx.Tx) error { return audit.Append(ctx, tx, ev) }); err != nil {
			t.Fatal(err)
		}
	}
	link(t, tr, db)
	var buf bytes.Buffer
	if err := tr.Export(ctx, &buf, 1, 0); err != nil {
		t.Fatal(err)
	}
	if rep, err := audit.VerifyExport(bytes.NewReader(buf.Bytes()), tr.PublicKeys()); err != nil || !rep.OK || rep.Links != 4 {
		t.Fatalf("verify: %+v %v", rep, err)
	}
	var prev []byte
	v1, v2 := 0, 0
	sc := bufio.NewScanner(&buf)
	for sc.Scan() {
		var line struct {
			Type     string          `json:"type"`
			Hash     string          `json:"hash"`
			PrevHash string          `json:"prev_hash"`
			Event    json.RawMessage `json:"event"`
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatal(err)
		}
		switch line.Type {
		case "header":
			prev, _ = hex.DecodeString(line.PrevHash)
		case "link":
			var form struct{ V int }
			json.Unmarshal(line.Event, &form)
			if form.V != 2 {
				v1++
			} else {
				v2++
				canonical, err := jcs.Transform(line.Event)
				if err != nil {
					t.Fatal(err)
				}
				sum := sha256.Sum256(append(append([]byte(nil), prev...), canonical...))
				if hex.EncodeToString(sum[:]) != line.Hash {
					t.Errorf("link %s: SHA-256(prev || JCS(event)) = %x, the export says %s\n%s", line.Event, sum, line.Hash, canonical)
				}
			}
			prev, _ = hex.DecodeString(line.Hash)
		}
	}
	if v1 != 1 || v2 != 3 {
		t.Errorf("%d form-1 and %d form-2 links, want 1 and 3", v1, v2)
	}
}
