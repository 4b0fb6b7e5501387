package e2e

import (
	"crypto/ed25519"
	"crypto/hpke"
	"crypto/rand"
	"fmt"

	"github.com/courier-chat/courier"
)

// Identity is a device's long-term signing key. It signs the device's
// prekeys and the sender keys it distributes, never message contents:
// those are signed by per-chain keys.
type Identity struct {
	priv ed25519.PrivateKey
}

// NewIdentity returns a fresh identity key.
func NewIdentity() *Identity {
	var seed [ed25519.SeedSize]byte
	rand.Read(seed[:])
	return IdentityFromSeed(seed[:])
}

// IdentityFromSeed returns the identity of a 32-byte Ed25519 seed (RFC
// 8032), the form a device stores it in.
func IdentityFromSeed(seed []byte) *Identity {
	return &Identity{priv: ed25519.NewKeyFromSeed(seed)}
}

// Seed is the identity's private key, to persist it.
func (id *Identity) Seed() []byte { return id.priv.Seed() }

// Public is the 32-byte Ed25519 public key the directory publishes.
func (id *Identity) Public() []byte { return id.priv.Public().(ed25519.PublicKey) }

func (id *Identity) sign(data []byte) []byte { return ed25519.Sign(id.priv, data) }

// PrekeyPair is a prekey with its private half, which stays on the device.
type PrekeyPair struct {
	Public  courier.Prekey
	Private hpke.PrivateKey
}

// NewPrekey generates a prekey of kem and kind and signs it.
func (id *Identity) NewPrekey(kem courier.KEM, kind courier.PrekeyKind, keyID uint32) (*PrekeyPair, error) {
	k, err := hpkeKEM(kem)
	if err != nil {
		return nil, err
	}
	priv, err := k.GenerateKey()
	if err != nil {
		return nil, err
	}
	return id.signPrekey(priv, kem, kind, keyID), nil
}

// DerivePrekey is NewPrekey from input keying material, through HPKE's
// DeriveKeyPair (RFC 9180 §7.1.3): the same ikm always gives the same key,
// which is how the test vectors pin prekeys.
func (id *Identity) DerivePrekey(kem courier.KEM, kind courier.PrekeyKind, keyID uint32, ikm []byte) (*PrekeyPair, error) {
	k, err := hpkeKEM(kem)
	if err != nil {
		return nil, err
	}
	priv, err := k.DeriveKeyPair(ikm)
	if err != nil {
		return nil, err
	}
	return id.signPrekey(priv, kem, kind, keyID), nil
}

func (id *Identity) signPrekey(priv hpke.PrivateKey, kem courier.KEM, kind courier.PrekeyKind, keyID uint32) *PrekeyPair {
	p := courier.Prekey{KeyID: keyID, KEM: kem, Kind: kind, PublicKey: priv.PublicKey().Bytes()}
	// The directory checks exactly this signature at upload
	// (courier.Prekey.Verify), and senders check it again at fetch.
	p.Signature = id.sign(courier.PrekeySignedData(&p))
	return &PrekeyPair{Public: p, Private: priv}
}

// hpkeKEM returns the HPKE KEM of a directory KEM ID.
func hpkeKEM(kem courier.KEM) (hpke.KEM, error) {
	switch kem {
	case courier.KEMXWing:
		return hpke.MLKEM768X25519(), nil
	case courier.KEMX25519:
		return hpke.DHKEM(ecdhX25519), nil
	}
	return nil, fmt.Errorf("e2e: unknown kem %#04x", uint16(kem))
}
