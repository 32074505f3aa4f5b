// Package pii protects personal data at rest: AES-256-GCM encryption under
// a key ring (each ciphertext names its key, so keys can rotate), and a
// keyed hash (HMAC-SHA256) for looking a document up, for example on a
// blacklist, without decrypting anything.
package pii

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Keyring holds the encryption keys by id, the current one first, and the lookup key.
type Keyring struct {
	current string
	aeads   map[string]cipher.AEAD
	lookup  []byte
}

// ErrDecrypt is returned for a ciphertext that does not open: unknown key, altered bytes, wrong context.
var ErrDecrypt = errors.New("cannot decrypt personal data")

// ParseKeyring reads "id:base64key[,id:base64key...]" (32-byte keys, the
// first is used to encrypt) and a base64 32-byte lookup key.
func ParseKeyring(keys, lookup string) (*Keyring, error) {
	k := &Keyring{aeads: map[string]cipher.AEAD{}}
	for i, part := range strings.Split(keys, ",") {
		id, b64, ok := strings.Cut(strings.TrimSpace(part), ":")
		raw, err := base64.StdEncoding.DecodeString(b64)
		if !ok || id == "" || err != nil || len(raw) != 32 {
			return nil, errors.New("PII_KEYS: want id:base64(32 bytes)[,id:base64...]")
		}
		block, _ := aes.NewCipher(raw)
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, err
		}
		if _, dup := k.aeads[id]; dup {
			return nil, fmt.Errorf("PII_KEYS: key id %q appears twice", id)
		}
		k.aeads[id] = aead
		if i == 0 {
			k.current = id
		}
	}
	l, err := base64.StdEncoding.DecodeString(strings.TrimSpace(lookup))
	if err != nil || len(l) != 32 {
		return nil, errors.New("PII_LOOKUP_KEY: want base64(32 bytes)")
	}
	k.lookup = l
	return k, nil
}

// NewKey returns a random base64 32-byte key, for configuration.
func NewKey() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

// Seal encrypts plaintext under the current key. context binds the
// ciphertext to where it is stored (e.g. "party:<id>:document"), so it
// cannot be copied into another row and decrypt there.
func (k *Keyring) Seal(plaintext []byte, context string) (keyID string, sealed []byte) {
	aead := k.aeads[k.current]
	nonce := make([]byte, aead.NonceSize())
	_, _ = rand.Read(nonce)
	return k.current, aead.Seal(nonce, nonce, plaintext, []byte(context))
}

// Open decrypts what Seal produced.
func (k *Keyring) Open(keyID string, sealed []byte, context string) ([]byte, error) {
	aead, ok := k.aeads[keyID]
	if !ok || len(sealed) < aead.NonceSize() {
		return nil, ErrDecrypt
	}
	pt, err := aead.Open(nil, sealed[:aead.NonceSize()], sealed[aead.NonceSize():], []byte(context))
	if err != nil {
		return nil, ErrDecrypt
	}
	return pt, nil
}

// Lookup is the keyed hash of a normalised document, for equality search.
func (k *Keyring) Lookup(docType, number string) []byte {
	m := hmac.New(sha256.New, k.lookup)
	m.Write([]byte(docType))
	m.Write([]byte{0})
	m.Write([]byte(number))
	return m.Sum(nil)
}

// CurrentKeyID is the id new ciphertexts are sealed under.
func (k *Keyring) CurrentKeyID() string { return k.current }

// Has reports whether the ring holds a key of that id.
func (k *Keyring) Has(id string) bool { _, ok := k.aeads[id]; return ok }

// IDs lists the ring's key ids, the current one first.
func (k *Keyring) IDs() []string {
	out := []string{k.current}
	for id := range k.aeads {
		if id != k.current {
			out = append(out, id)
		}
	}
	sort.Strings(out[1:])
	return out
}

// Rotated is a ring (as PII_KEYS spells it) with a new random key in
// front, under the next free id ("k2" after "k1"), the old keys kept so
// what they sealed still opens until it is re-encrypted.
func Rotated(keys string) (string, error) {
	if _, err := ParseKeyring(keys, NewKey()); err != nil {
		return "", err
	}
	next := 1
	for _, part := range strings.Split(keys, ",") {
		id, _, _ := strings.Cut(strings.TrimSpace(part), ":")
		if n, err := strconv.Atoi(strings.TrimPrefix(id, "k")); err == nil && strings.HasPrefix(id, "k") && n >= next {
			next = n + 1
		}
	}
	return fmt.Sprintf("k%d:%s,%s", next, NewKey(), strings.TrimSpace(keys)), nil
}
