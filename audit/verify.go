package audit

import (
	"bytes"
	"crypto/ed25519"
	"fmt"
	"sort"
	"time"
)

// Link is one chain position as stored: its hash and the event it links
// (Event is nil when the event row is missing).
type Link struct {
	Pos      int64
	EventSeq int64
	Hash     []byte
	Event    *Event
}

// Checkpoint is a signed chain head.
type Checkpoint struct {
	Pos       int64     `json:"pos"`
	Hash      []byte    `json:"hash"`
	SignedAt  time.Time `json:"signed_at"`
	KeyID     string    `json:"key_id"`
	Signature []byte    `json:"signature"`
}

// Problem is one detected inconsistency and where it is.
type Problem struct {
	Pos    int64  `json:"pos,omitempty"`
	Seq    int64  `json:"seq,omitempty"`
	Kind   string `json:"kind"`
	Detail string `json:"detail"`
}

// Report is the outcome of a verification.
type Report struct {
	From        int64     `json:"from_pos"`
	To          int64     `json:"to_pos"`
	Links       int       `json:"links_checked"`
	Checkpoints int       `json:"checkpoints_checked"`
	OK          bool      `json:"ok"`
	Problems    []Problem `json:"problems"`
}

// Backdating beyond this between consecutive chain positions is flagged:
// transactions commit out of order by at most their duration, never by this much.
const maxBackdate = 5 * time.Minute

// Verifier checks links in position order. Each link is checked against the
// stored hash of the previous position, so a tampered row is located at its
// own position instead of breaking every position after it.
type Verifier struct {
	keys        map[string]ed25519.PublicKey
	prevHash    []byte
	nextPos     int64
	lastAt      time.Time
	stored      map[int64][]byte // stored hashes at checkpoint positions still to check
	checkpoints []Checkpoint
	r           Report
}

// NewVerifier starts at position from, whose previous hash is prev (GenesisHash for 1).
func NewVerifier(from int64, prev []byte, keys []PublicKey, checkpoints []Checkpoint) *Verifier {
	v := &Verifier{keys: map[string]ed25519.PublicKey{}, prevHash: prev, nextPos: from, stored: map[int64][]byte{}}
	for _, k := range keys {
		v.keys[k.ID] = k.Key
	}
	v.checkpoints = append(v.checkpoints, checkpoints...)
	sort.Slice(v.checkpoints, func(i, j int) bool { return v.checkpoints[i].Pos < v.checkpoints[j].Pos })
	for _, c := range v.checkpoints {
		v.stored[c.Pos] = nil
	}
	v.r.From, v.r.To = from, from-1
	return v
}

func (v *Verifier) problem(p Problem) { v.r.Problems = append(v.r.Problems, p) }

// Add checks the next link.
func (v *Verifier) Add(l Link) {
	v.r.Links++
	if l.Pos != v.nextPos {
		if l.Pos > v.nextPos {
			v.problem(Problem{Pos: v.nextPos, Kind: "missing_position", Detail: fmt.Sprintf("positions %d to %d are missing", v.nextPos, l.Pos-1)})
		} else {
			v.problem(Problem{Pos: l.Pos, Kind: "duplicate_position", Detail: fmt.Sprintf("position %d appears again", l.Pos)})
		}
	}
	v.nextPos = l.Pos + 1
	v.r.To = l.Pos
	if _, ok := v.stored[l.Pos]; ok {
		v.stored[l.Pos] = l.Hash
	}
	defer func() { v.prevHash = l.Hash }()
	if l.Event == nil {
		v.problem(Problem{Pos: l.Pos, Seq: l.EventSeq, Kind: "missing_event", Detail: fmt.Sprintf("event %d, linked at position %d, does not exist", l.EventSeq, l.Pos)})
		return
	}
	if l.Event.Seq != l.EventSeq {
		v.problem(Problem{Pos: l.Pos, Seq: l.Event.Seq, Kind: "wrong_event", Detail: fmt.Sprintf("position %d links event %d but holds event %d", l.Pos, l.EventSeq, l.Event.Seq)})
	}
	want, err := HashLink(v.prevHash, *l.Event)
	if err != nil {
		v.problem(Problem{Pos: l.Pos, Seq: l.EventSeq, Kind: "unreadable_event", Detail: err.Error()})
		return
	}
	if !bytes.Equal(want, l.Hash) {
		v.problem(Problem{Pos: l.Pos, Seq: l.EventSeq, Kind: "hash_mismatch",
			Detail: fmt.Sprintf("event %d at position %d does not hash to the stored chain: altered, reordered or replaced", l.EventSeq, l.Pos)})
	}
	if !v.lastAt.IsZero() && l.Event.OccurredAt.Before(v.lastAt.Add(-maxBackdate)) {
		v.problem(Problem{Pos: l.Pos, Seq: l.EventSeq, Kind: "backdated",
			Detail: fmt.Sprintf("event %d claims %s, before position %d's %s", l.EventSeq, l.Event.OccurredAt.Format(time.RFC3339), l.Pos-1, v.lastAt.Format(time.RFC3339))})
	}
	if l.Event.OccurredAt.After(v.lastAt) {
		v.lastAt = l.Event.OccurredAt
	}
}

// Unchained reports an event that exists, is final, and was never chained.
func (v *Verifier) Unchained(seq int64) {
	v.problem(Problem{Seq: seq, Kind: "unchained_event", Detail: fmt.Sprintf("event %d is committed but not in the chain: inserted outside the service", seq)})
}

// Finish checks the checkpoints within the verified range and returns the report.
func (v *Verifier) Finish() Report {
	for _, c := range v.checkpoints {
		if c.Pos < v.r.From || c.Pos > v.r.To {
			continue
		}
		v.r.Checkpoints++
		key, ok := v.keys[c.KeyID]
		switch {
		case !ok:
			v.problem(Problem{Pos: c.Pos, Kind: "unknown_key", Detail: fmt.Sprintf("checkpoint at %d is signed by unknown key %s", c.Pos, c.KeyID)})
		case !ed25519.Verify(key, checkpointMessage(c.Pos, c.Hash, c.SignedAt), c.Signature):
			v.problem(Problem{Pos: c.Pos, Kind: "bad_signature", Detail: fmt.Sprintf("checkpoint at %d has an invalid signature", c.Pos)})
		case !bytes.Equal(v.stored[c.Pos], c.Hash):
			v.problem(Problem{Pos: c.Pos, Kind: "checkpoint_mismatch", Detail: fmt.Sprintf("the chain at position %d no longer has the hash signed at %s: rewritten", c.Pos, c.SignedAt.Format(time.RFC3339))})
		}
	}
	v.r.OK = len(v.r.Problems) == 0
	if v.r.Problems == nil {
		v.r.Problems = []Problem{}
	}
	return v.r
}
