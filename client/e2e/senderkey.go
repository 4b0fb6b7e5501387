package e2e

import (
	"crypto/ed25519"
	"crypto/hpke"
	"encoding/binary"

	"github.com/courier-chat/courier"
)

// A sealed sender key, the payload a sending device puts in each recipient
// device's mailbox when it starts a chain:
//
//	version (1) = 0x01 | type (1) = 0x02 | KEM ID (2, BE) | prekey ID (4, BE)
//	| HPKE encapsulated key (32 for X25519, 1120 for X-Wing)
//	| HPKE ciphertext of the 84-byte sender key (100 bytes)
//	| Ed25519 signature (64) by the sender device's identity key
//
// HPKE is base mode, HKDF-SHA256, AES-256-GCM, single shot; info is
// senderKeyInfo (conversation and both devices bound in) and aad the
// 8-byte header. The sender key is chain ID (16) | iteration (4, BE) |
// chain key (32) | signing key (32). The signature covers info and every
// byte before it: base-mode HPKE does not authenticate the sender, the
// identity signature does.
const (
	senderKeyHeaderSize = 8
	senderKeySize       = 16 + 4 + 32 + 32
	labelSenderKey      = "courier-e2e-v1 sender key"
)

// encSize is the size of the HPKE encapsulated key of kem.
func encSize(kem courier.KEM) int {
	if kem == courier.KEMXWing {
		return 1088 + 32 // ML-KEM-768 ciphertext, X25519 share
	}
	return 32
}

func senderKeyInfo(conversationID, senderDeviceID, recipientDeviceID string) []byte {
	b := append([]byte(labelSenderKey), 0)
	b = appendString(b, conversationID)
	b = appendString(b, senderDeviceID)
	return appendString(b, recipientDeviceID)
}

func (k SenderKey) marshal() []byte {
	b := make([]byte, 0, senderKeySize)
	b = append(b, k.ChainID[:]...)
	b = binary.BigEndian.AppendUint32(b, k.Iteration)
	b = append(b, k.ChainKey[:]...)
	return append(b, k.SigningKey[:]...)
}

// SealSenderKey seals k to one recipient device's prekey (a one-time,
// signed or last-resort prekey the sender fetched and verified) and signs
// the result with the sender's identity.
func (id *Identity) SealSenderKey(conversationID, senderDeviceID, recipientDeviceID string, to *courier.Prekey, k SenderKey) ([]byte, error) {
	kem, err := hpkeKEM(to.KEM)
	if err != nil {
		return nil, err
	}
	pub, err := kem.NewPublicKey(to.PublicKey)
	if err != nil {
		return nil, err
	}
	info := senderKeyInfo(conversationID, senderDeviceID, recipientDeviceID)
	enc, s, err := hpke.NewSender(pub, hpkeKDF, hpkeAEAD, info)
	if err != nil {
		return nil, err
	}
	b := []byte{Version, typeSenderKey}
	b = binary.BigEndian.AppendUint16(b, uint16(to.KEM))
	b = binary.BigEndian.AppendUint32(b, to.KeyID)
	aad := b[:senderKeyHeaderSize:senderKeyHeaderSize]
	ct, err := s.Seal(aad, k.marshal())
	if err != nil {
		return nil, err
	}
	b = append(append(b, enc...), ct...)
	return append(b, id.sign(append(info, b...))...), nil
}

// SealedPrekey names the recipient prekey a sealed sender key was sealed
// to, so the recipient can find its private half (and delete a one-time
// key once used).
func SealedPrekey(sealed []byte) (courier.KEM, uint32, error) {
	if len(sealed) < senderKeyHeaderSize || sealed[0] != Version || sealed[1] != typeSenderKey {
		return 0, 0, ErrFormat
	}
	return courier.KEM(binary.BigEndian.Uint16(sealed[2:])), binary.BigEndian.Uint32(sealed[4:]), nil
}

// OpenSenderKey checks a sealed sender key's signature by the sender's
// identity key, then opens it with priv, the private half of the prekey
// SealedPrekey names.
func OpenSenderKey(sealed []byte, conversationID, senderDeviceID, recipientDeviceID string, senderIdentity []byte, priv hpke.PrivateKey) (SenderKey, error) {
	var k SenderKey
	kem, _, err := SealedPrekey(sealed)
	if err != nil {
		return k, err
	}
	n := encSize(kem)
	if len(sealed) != senderKeyHeaderSize+n+senderKeySize+16+ed25519.SignatureSize || len(senderIdentity) != ed25519.PublicKeySize {
		return k, ErrFormat
	}
	info := senderKeyInfo(conversationID, senderDeviceID, recipientDeviceID)
	body, sig := sealed[:len(sealed)-ed25519.SignatureSize], sealed[len(sealed)-ed25519.SignatureSize:]
	if !ed25519.Verify(senderIdentity, append(info, body...), sig) {
		return k, ErrDecrypt
	}
	enc := body[senderKeyHeaderSize : senderKeyHeaderSize+n]
	r, err := hpke.NewRecipient(enc, priv, hpkeKDF, hpkeAEAD, info)
	if err != nil {
		return k, ErrDecrypt
	}
	pt, err := r.Open(body[:senderKeyHeaderSize], body[senderKeyHeaderSize+n:])
	if err != nil {
		return k, ErrDecrypt
	}
	copy(k.ChainID[:], pt[:16])
	k.Iteration = binary.BigEndian.Uint32(pt[16:20])
	copy(k.ChainKey[:], pt[20:52])
	copy(k.SigningKey[:], pt[52:])
	return k, nil
}
