package pii

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestSealOpenRotateAndLookup(t *testing.T) {
	old := "k1:" + NewKey()
	lookup := NewKey()
	k1, err := ParseKeyring(old, lookup)
	if err != nil {
		t.Fatal(err)
	}
	id, ct := k1.Seal([]byte("630102199003071234"), "party:1:document")
	if id != "k1" || bytes.Contains(ct, []byte("630102")) {
		t.Fatalf("sealed %q under %s", ct, id)
	}
	pt, err := k1.Open(id, ct, "party:1:document")
	if err != nil || string(pt) != "630102199003071234" {
		t.Fatalf("Open = %q, %v", pt, err)
	}
	if _, err := k1.Open(id, ct, "party:2:document"); !errors.Is(err, ErrDecrypt) {
		t.Errorf("opened under another context: %v", err)
	}
	ct[len(ct)-1] ^= 1
	if _, err := k1.Open(id, ct, "party:1:document"); !errors.Is(err, ErrDecrypt) {
		t.Errorf("opened altered bytes: %v", err)
	}
	// Rotation: a new current key, the old one still opens old data.
	k2, err := ParseKeyring("k2:"+NewKey()+","+old, lookup)
	if err != nil {
		t.Fatal(err)
	}
	_, ct1 := k1.Seal([]byte("x"), "c")
	if pt, err := k2.Open("k1", ct1, "c"); err != nil || string(pt) != "x" {
		t.Errorf("old key after rotation: %q, %v", pt, err)
	}
	if id, _ := k2.Seal([]byte("y"), "c"); id != "k2" {
		t.Errorf("sealed under %s after rotation", id)
	}
	if !bytes.Equal(k1.Lookup("prc_resident_id", "1"), k2.Lookup("prc_resident_id", "1")) {
		t.Error("lookup hash changed with rotation of encryption keys")
	}
	if bytes.Equal(k1.Lookup("prc_resident_id", "1"), k1.Lookup("passport", "1")) {
		t.Error("lookup hash ignores the document type")
	}
	for _, bad := range []string{"", "k1", "k1:short", "k1:" + NewKey() + ",k1:" + NewKey()} {
		if _, err := ParseKeyring(bad, lookup); err == nil {
			t.Errorf("ParseKeyring(%q) accepted", bad)
		}
	}
}

func TestRotated(t *testing.T) {
	ring := "k1:" + NewKey()
	next, err := Rotated(ring)
	if err != nil {
		t.Fatal(err)
	}
	k, err := ParseKeyring(next, NewKey())
	if err != nil || k.CurrentKeyID() != "k2" || !k.Has("k1") || len(k.IDs()) != 2 {
		t.Fatalf("rotated ring %q: %v", next, err)
	}
	if again, _ := Rotated(next); !strings.HasPrefix(again, "k3:") {
		t.Errorf("second rotation: %q", again)
	}
	if _, err := Rotated("garbage"); err == nil {
		t.Error("rotated a ring that does not parse")
	}
}
