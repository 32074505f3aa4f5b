package audit

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/crowdledger/crowdledger/internal/canonjson"
)

// Actor is who caused an event: an API key (with its role and subject), or
// the system itself (role "system", subject naming the job).
type Actor struct {
	KeyID   uuid.UUID
	Role    string
	Subject string
}

// Person names the human or legal person behind an actor, the same for
// every key they hold: maker-checker compares people, not keys, so one
// person with an operator key and a compliance key is still one person.
// Staff keys name their holder in the subject, party keys (issuer,
// investor) the party, jobs themselves. A key without a subject (made
// before staff subjects were required) is its own person.
func (a Actor) Person() string {
	switch {
	case a.Subject == "":
		return "key:" + a.KeyID.String()
	case a.Role == "issuer" || a.Role == "investor":
		return "party:" + a.Subject
	case a.Role == "system":
		return "system:" + a.Subject
	}
	return "staff:" + a.Subject
}

// System is the actor for the service's own jobs (expiry sweeps, scheduled closes).
func System(job string) Actor { return Actor{Role: "system", Subject: job} }

// Event is one audited command.
type Event struct {
	// Canon is the byte form the event is hashed in: 1 for events written
	// before RFC 8785 was adopted, 2 (CanonJCS) for every event since.
	Canon      int
	Seq        int64
	OccurredAt time.Time
	Actor      Actor
	Action     string   // e.g. "ledger.entry.post"
	ObjectIDs  []string // ids of what changed
	RequestID  string
	Facts      json.RawMessage // what matters: amounts, before/after states
}

type ctxKey struct{}

type origin struct {
	actor     Actor
	requestID string
}

// WithActor records who is acting, and for which request, in ctx. The API
// sets it once per request; domain code reads it when appending events.
func WithActor(ctx context.Context, a Actor, requestID string) context.Context {
	return context.WithValue(ctx, ctxKey{}, origin{a, requestID})
}

// From returns the actor and request id in ctx; an unattributed context is
// the system acting for an unnamed job, which the trail makes visible.
func From(ctx context.Context) (Actor, string) {
	if o, ok := ctx.Value(ctxKey{}).(origin); ok {
		return o.actor, o.requestID
	}
	return System("unattributed"), ""
}

// New builds an event attributed to the actor in ctx.
func New(ctx context.Context, action string, objectIDs []string, facts any) (Event, error) {
	a, rid := From(ctx)
	// No canonicalisation here, on the write path: jsonb reorders keys on
	// insert anyway, and Canonical runs on what is read back when hashing.
	raw, err := json.Marshal(facts)
	if err != nil {
		return Event{}, fmt.Errorf("audit facts for %s: %w", action, err)
	}
	if len(raw) == 0 || raw[0] != '{' {
		return Event{}, fmt.Errorf("audit facts for %s: %w", action, canonjson.ErrNotObject)
	}
	if objectIDs == nil {
		objectIDs = []string{}
	}
	return Event{Canon: CanonJCS, Actor: a, Action: action, ObjectIDs: objectIDs, RequestID: rid, Facts: raw}, nil
}

// The canonical forms events are hashed in.
const (
	// CanonV1: encoding/json with a fixed field order and facts with keys
	// sorted (internal/canonjson); only our verifier recomputes it.
	CanonV1 = 1
	// CanonJCS: RFC 8785, the JSON Canonicalization Scheme, of the event
	// object with "v":2, so any JCS implementation recomputes it.
	CanonJCS = 2
)

// canonicalEvent fixes the field order of the bytes that are hashed.
type canonicalEvent struct {
	Seq       int64           `json:"seq"`
	At        string          `json:"at"`
	KeyID     string          `json:"actor_key_id"`
	Role      string          `json:"actor_role"`
	Subject   string          `json:"actor_subject"`
	Action    string          `json:"action"`
	Objects   []string        `json:"objects"`
	RequestID string          `json:"request_id"`
	Facts     json.RawMessage `json:"facts"`
}

// Canonical is the event's byte form for hashing and export: JSON with a
// fixed field order, UTC time at microsecond precision (what PostgreSQL
// stores), facts with sorted keys.
func (e Event) Canonical() ([]byte, error) {
	if e.Canon == CanonJCS {
		return e.jcs()
	}
	facts, _, err := canonjson.Object(e.Facts)
	if err != nil {
		return nil, fmt.Errorf("event %d facts: %w", e.Seq, err)
	}
	key := ""
	if e.Actor.KeyID != uuid.Nil {
		key = e.Actor.KeyID.String()
	}
	objs := e.ObjectIDs
	if objs == nil {
		objs = []string{}
	}
	return json.Marshal(canonicalEvent{Seq: e.Seq, At: e.OccurredAt.UTC().Truncate(time.Microsecond).Format("2006-01-02T15:04:05.000000Z"),
		KeyID: key, Role: e.Actor.Role, Subject: e.Actor.Subject, Action: e.Action, Objects: objs, RequestID: e.RequestID, Facts: facts})
}

// jcs is form 2: the event object
//
//	{"v":2,"seq":…,"at":…,"actor_key_id":…,"actor_role":…,"actor_subject":…,
//	 "action":…,"objects":[…],"request_id":…,"facts":{…}}
//
// in RFC 8785 form, as gowebpki/jcs defines it (TestExportRecomputesWithJCS
// recomputes it with that library). The chainer hashes every event, so the
// envelope's members, whose names are ASCII and so sort as bytes, are
// written here in that order, and only the facts go through a JSON parser
// (canonjson.JCS, held equal to the library by FuzzJCS).
func (e Event) jcs() ([]byte, error) {
	facts := []byte(e.Facts)
	if len(facts) == 0 {
		facts = []byte("{}")
	}
	cf, err := canonjson.JCS(facts)
	if err != nil {
		return nil, fmt.Errorf("event %d facts in RFC 8785 form: %w", e.Seq, err)
	}
	key := ""
	if e.Actor.KeyID != uuid.Nil {
		key = e.Actor.KeyID.String()
	}
	b := make([]byte, 0, 256+len(cf))
	str := func(name, v string) {
		b = append(b, name...)
		b = canonjson.AppendJCSString(b, v)
	}
	str(`{"action":`, e.Action)
	str(`,"actor_key_id":`, key)
	str(`,"actor_role":`, e.Actor.Role)
	str(`,"actor_subject":`, e.Actor.Subject)
	str(`,"at":`, e.OccurredAt.UTC().Truncate(time.Microsecond).Format("2006-01-02T15:04:05.000000Z"))
	b = append(b, `,"facts":`...)
	b = append(b, cf...)
	b = append(b, `,"objects":[`...)
	for i, o := range e.ObjectIDs {
		if i > 0 {
			b = append(b, ',')
		}
		b = canonjson.AppendJCSString(b, o)
	}
	str(`],"request_id":`, e.RequestID)
	b = append(b, `,"seq":`...)
	b = strconv.AppendInt(b, e.Seq, 10) // below 2^53: ECMAScript writes it so
	b = append(b, `,"v":2}`...)
	return b, nil
}

// GenesisHash is the "previous hash" of position 1.
var GenesisHash = make([]byte, sha256.Size)

// HashLink computes a chain position's hash from the previous hash and the event.
func HashLink(prev []byte, e Event) ([]byte, error) {
	c, err := e.Canonical()
	if err != nil {
		return nil, err
	}
	return linkBytes(prev, c), nil
}

func linkBytes(prev, canonical []byte) []byte {
	h := sha256.New()
	h.Write(prev)
	h.Write(canonical)
	return h.Sum(nil)
}

// ParseCanonical reads an event back from its canonical bytes.
func ParseCanonical(b []byte) (Event, error) {
	var c struct {
		canonicalEvent
		V int `json:"v"`
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return Event{}, err
	}
	canon := CanonV1
	if c.V == CanonJCS {
		canon = CanonJCS
	} else if c.V != 0 {
		return Event{}, fmt.Errorf("unknown canonical form %d", c.V)
	}
	at, err := time.Parse(time.RFC3339Nano, c.At)
	if err != nil {
		return Event{}, err
	}
	e := Event{Canon: canon, Seq: c.Seq, OccurredAt: at, Actor: Actor{Role: c.Role, Subject: c.Subject}, Action: c.Action,
		ObjectIDs: c.Objects, RequestID: c.RequestID, Facts: c.Facts}
	if c.KeyID != "" {
		if e.Actor.KeyID, err = uuid.Parse(c.KeyID); err != nil {
			return Event{}, err
		}
	}
	return e, nil
}
