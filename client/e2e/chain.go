package e2e

import (
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"time"
)

// SenderKey is the state of a chain that its owner hands to recipients:
// with it they derive every message key from Iteration on, and check each
// message's signature. It travels only sealed (SealSenderKey).
type SenderKey struct {
	ChainID    [16]byte // random; names the chain in every message
	Iteration  uint32   // the iteration ChainKey is at
	ChainKey   [32]byte
	SigningKey [32]byte // Ed25519 public key of the chain
}

// Labels of the ratchet's two HKDF-Expand outputs (RFC 5869 §2.3, with the
// chain key as the pseudorandom key): distinct, so a message key never
// equals a chain key.
const (
	labelMessageKey = "courier-e2e-v1 message key"
	labelChainKey   = "courier-e2e-v1 chain key"
)

// messageKeySize is an AES-256 key and a GCM nonce: every message key is
// used once, so its nonce may be derived with it.
const messageKeySize = 32 + 12

// step derives the message key of ck's iteration and the next chain key.
func step(ck [32]byte) (mk [messageKeySize]byte, next [32]byte) {
	m, err := hkdf.Expand(sha256.New, ck[:], labelMessageKey, messageKeySize)
	if err != nil {
		panic(err) // lengths are constant and valid
	}
	n, err := hkdf.Expand(sha256.New, ck[:], labelChainKey, 32)
	if err != nil {
		panic(err)
	}
	copy(mk[:], m)
	copy(next[:], n)
	return mk, next
}

// When a sending device starts a new chain (docs/e2e.md, "Chains").
const (
	MaxChainAge      = 7 * 24 * time.Hour
	MaxChainMessages = 10000
)

// SenderChain is the sending side of a chain: one per sending device and
// conversation. It is not safe for concurrent use.
type SenderChain struct {
	key     SenderKey
	signing ed25519.PrivateKey
	// Created and Recipients decide when to start a new chain: Recipients
	// are the device IDs the chain was sealed to.
	Created    time.Time
	Recipients []string
}

// NewSenderChain starts a chain at iteration 0 with fresh random keys.
func NewSenderChain() *SenderChain {
	var ck [32]byte
	var chainID [16]byte
	var seed [ed25519.SeedSize]byte
	rand.Read(ck[:])
	rand.Read(chainID[:])
	rand.Read(seed[:])
	return SenderChainFrom(chainID, ck, seed[:], time.Now())
}

// SenderChainFrom is NewSenderChain with given keys (test vectors, or a
// chain read back from storage).
func SenderChainFrom(chainID [16]byte, chainKey [32]byte, signingSeed []byte, created time.Time) *SenderChain {
	priv := ed25519.NewKeyFromSeed(signingSeed)
	c := &SenderChain{signing: priv, Created: created}
	c.key.ChainID, c.key.ChainKey = chainID, chainKey
	copy(c.key.SigningKey[:], priv.Public().(ed25519.PublicKey))
	return c
}

// Key returns the chain's state to seal for a recipient: from now on.
// A device that gets it reads nothing sent before.
func (c *SenderChain) Key() SenderKey { return c.key }

// NeedsRotation reports whether a new chain is due before the next
// message: the recipient devices changed (a member or device was added or
// removed), the chain is older than MaxChainAge, or it sent
// MaxChainMessages. A removed device keeps the old chain's keys, so only
// a new chain stops it reading.
func (c *SenderChain) NeedsRotation(now time.Time, recipients []string) bool {
	if now.Sub(c.Created) > MaxChainAge || c.key.Iteration >= MaxChainMessages {
		return true
	}
	return !sameSet(c.Recipients, recipients)
}

// next returns the message key of the current iteration and moves the
// chain past it; the old chain key is overwritten, so the key cannot be
// derived again from this state.
func (c *SenderChain) next() (uint32, [messageKeySize]byte) {
	it := c.key.Iteration
	mk, nk := step(c.key.ChainKey)
	c.key.ChainKey = nk
	c.key.Iteration++
	return it, mk
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	seen := make(map[string]bool, len(a))
	for _, s := range a {
		seen[s] = true
	}
	for _, s := range b {
		if !seen[s] {
			return false
		}
	}
	return true
}
