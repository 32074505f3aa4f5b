package audit

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Signer signs checkpoints with the platform's Ed25519 key.
type Signer struct {
	priv ed25519.PrivateKey
	id   string
}

// PublicKey is a published verification key.
type PublicKey struct {
	ID  string            `json:"key_id"`
	Key ed25519.PublicKey `json:"-"`
}

// KeyID names a public key: the first 8 bytes of its SHA-256, in hex.
func KeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:8])
}

// ParseSigner reads a base64 32-byte Ed25519 seed (as `crowdledger audit keygen` prints).
func ParseSigner(seedB64 string) (*Signer, error) {
	seed, err := base64.StdEncoding.DecodeString(strings.TrimSpace(seedB64))
	if err != nil || len(seed) != ed25519.SeedSize {
		return nil, errors.New("audit signing key: want a base64-encoded 32-byte Ed25519 seed")
	}
	priv := ed25519.NewKeyFromSeed(seed)
	return &Signer{priv: priv, id: KeyID(priv.Public().(ed25519.PublicKey))}, nil
}

// GenerateSeed makes a new signing key seed, base64-encoded.
func GenerateSeed() (string, error) {
	seed := make([]byte, ed25519.SeedSize)
	if _, err := rand.Read(seed); err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(seed), nil
}

// Public is the key to publish.
func (s *Signer) Public() PublicKey {
	return PublicKey{ID: s.id, Key: s.priv.Public().(ed25519.PublicKey)}
}

// Encoded is the public key in base64, as published.
func (p PublicKey) Encoded() string { return base64.StdEncoding.EncodeToString(p.Key) }

// ParsePublicKey reads a base64 Ed25519 public key.
func ParsePublicKey(b64 string) (PublicKey, error) {
	k, err := base64.StdEncoding.DecodeString(strings.TrimSpace(b64))
	if err != nil || len(k) != ed25519.PublicKeySize {
		return PublicKey{}, errors.New("want a base64-encoded 32-byte Ed25519 public key")
	}
	return PublicKey{ID: KeyID(k), Key: k}, nil
}

// checkpointMessage is exactly what a checkpoint signature covers.
func checkpointMessage(pos int64, hash []byte, at time.Time) []byte {
	return []byte(fmt.Sprintf("crowdledger-audit-checkpoint/v1\n%d\n%x\n%s", pos, hash, at.UTC().Truncate(time.Microsecond).Format("2006-01-02T15:04:05.000000Z")))
}

func (s *Signer) sign(pos int64, hash []byte, at time.Time) []byte {
	return ed25519.Sign(s.priv, checkpointMessage(pos, hash, at))
}
