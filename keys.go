package courier

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
)

// KEM names the HPKE key encapsulation mechanism of a prekey by its HPKE
// KEM identifier (RFC 9180 §7.1; draft-ietf-hpke-pq for X-Wing), so the
// number on the wire is the number in the specifications.
type KEM uint16

const (
	// KEMX25519 is DHKEM(X25519, HKDF-SHA256), for clients without X-Wing
	// (CryptoKit HPKE from iOS 17).
	KEMX25519 KEM = 0x0020
	// KEMXWing is MLKEM768-X25519 (X-Wing): post-quantum and classical
	// at once (Go's hpke.MLKEM768X25519, CryptoKit's XWingMLKEM768X25519).
	KEMXWing KEM = 0x647a
)

// KEMs lists the KEMs the directory accepts, preferred first.
var KEMs = []KEM{KEMXWing, KEMX25519}

// PublicKeySize is the size of a serialized public key of k, 0 for an
// unknown KEM: 32 for X25519; 1184 (ML-KEM-768) + 32 for X-Wing.
func (k KEM) PublicKeySize() int {
	switch k {
	case KEMX25519:
		return 32
	case KEMXWing:
		return 1216
	}
	return 0
}

// String is the KEM's name in JSON: "x25519" or "xwing".
func (k KEM) String() string {
	switch k {
	case KEMX25519:
		return "x25519"
	case KEMXWing:
		return "xwing"
	}
	return fmt.Sprintf("kem-%#04x", uint16(k))
}

func (k KEM) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

func (k *KEM) UnmarshalText(b []byte) error {
	for _, c := range KEMs {
		if c.String() == string(b) {
			*k = c
			return nil
		}
	}
	return Errorf(EINVALID, "unknown kem %q (want xwing or x25519)", b)
}

// PrekeyKind says how a prekey is used.
type PrekeyKind uint8

const (
	// PrekeyOneTime keys are handed out once each, then deleted.
	PrekeyOneTime PrekeyKind = 1
	// PrekeySigned is the device's current medium-term key; it rotates.
	PrekeySigned PrekeyKind = 2
	// PrekeyLastResort is handed out when the one-time stock is empty.
	PrekeyLastResort PrekeyKind = 3
)

var prekeyKindNames = map[PrekeyKind]string{PrekeyOneTime: "one_time", PrekeySigned: "signed", PrekeyLastResort: "last_resort"}

func (k PrekeyKind) String() string { return prekeyKindNames[k] }

func (k PrekeyKind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

func (k *PrekeyKind) UnmarshalText(b []byte) error {
	for c, name := range prekeyKindNames {
		if name == string(b) {
			*k = c
			return nil
		}
	}
	return Errorf(EINVALID, "unknown prekey kind %q", b)
}

// Prekey is one HPKE public key of a device, signed by the device's
// identity key. Key IDs are chosen by the device and unique per device.
type Prekey struct {
	KeyID     uint32     `json:"key_id"`
	KEM       KEM        `json:"kem"`
	Kind      PrekeyKind `json:"kind"`
	PublicKey []byte     `json:"public_key"`
	Signature []byte     `json:"signature"`
}

// prekeyLabel starts every prekey's signed data, so a prekey signature can
// never be taken for a signature over anything else the identity signs.
const prekeyLabel = "courier-e2e-v1 prekey"

// PrekeySignedData is what the identity key signs for p: the label, a
// zero byte, the KEM ID (2 bytes), the kind (1), the key ID (4, big
// endian) and the public key. Clients sign it and the directory checks it.
func PrekeySignedData(p *Prekey) []byte {
	b := make([]byte, 0, len(prekeyLabel)+8+len(p.PublicKey))
	b = append(append(b, prekeyLabel...), 0)
	b = binary.BigEndian.AppendUint16(b, uint16(p.KEM))
	b = append(b, byte(p.Kind))
	b = binary.BigEndian.AppendUint32(b, p.KeyID)
	return append(b, p.PublicKey...)
}

// Verify checks p's shape and its signature by identity (an Ed25519
// public key). Every error is EINVALID and names the key.
func (p *Prekey) Verify(identity []byte) error {
	switch {
	case p.KEM.PublicKeySize() == 0:
		return Errorf(EINVALID, "prekey %d: unknown kem", p.KeyID)
	case prekeyKindNames[p.Kind] == "":
		return Errorf(EINVALID, "prekey %d: unknown kind", p.KeyID)
	case len(p.PublicKey) != p.KEM.PublicKeySize():
		return Errorf(EINVALID, "prekey %d: a %s public key is %d bytes", p.KeyID, p.KEM, p.KEM.PublicKeySize())
	case len(identity) != ed25519.PublicKeySize:
		return Errorf(EINVALID, "identity key must be %d bytes", ed25519.PublicKeySize)
	case len(p.Signature) != ed25519.SignatureSize || !ed25519.Verify(identity, PrekeySignedData(p), p.Signature):
		return Errorf(EINVALID, "prekey %d: bad signature", p.KeyID)
	}
	return nil
}

// KeyDigest is what a device and the directory each compute over the keys
// the directory holds for the device, to find drift without downloading
// them (Signal's /v2/keys/check is the model): SHA-256 over the identity
// key, then for each KEM in KEMs order that has them the signed and the
// last-resort prekey as KEM ID (2), kind (1), key ID (4) and public key.
// One-time keys are left out: their count is readable on its own.
func KeyDigest(identity []byte, signed []*Prekey) [32]byte {
	h := sha256.New()
	h.Write(identity)
	for _, kem := range KEMs {
		for _, kind := range []PrekeyKind{PrekeySigned, PrekeyLastResort} {
			for _, p := range signed {
				if p != nil && p.KEM == kem && p.Kind == kind {
					var hdr [7]byte
					binary.BigEndian.PutUint16(hdr[:], uint16(kem))
					hdr[2] = byte(kind)
					binary.BigEndian.PutUint32(hdr[3:], p.KeyID)
					h.Write(hdr[:])
					h.Write(p.PublicKey)
				}
			}
		}
	}
	var d [32]byte
	h.Sum(d[:0])
	return d
}

// Limits of the key directory.
const (
	// MaxPrekeysPerUpload caps one upload batch.
	MaxPrekeysPerUpload = 100
	// MaxOneTimePrekeys caps a device's stock per KEM.
	MaxOneTimePrekeys = 1000
	// LowPrekeyThreshold: below this many one-time keys of a KEM the device
	// is sent EventKeysLow.
	LowPrekeyThreshold = 20
)

// KeyUpload is what a device uploads: its identity key (set once for the
// device's life; a new identity is a new device) and prekeys. Replace
// drops the device's one-time stock of the KEMs in Prekeys first, to
// repair drift found by a consistency check.
type KeyUpload struct {
	IdentityKey []byte   `json:"identity_key"`
	Prekeys     []Prekey `json:"prekeys"`
	Replace     bool     `json:"replace,omitempty"`
}

// KeyCount is a device's stock of one KEM.
type KeyCount struct {
	KEM          KEM     `json:"kem"`
	OneTime      int     `json:"one_time"`
	SignedID     *uint32 `json:"signed_key_id,omitempty"`
	LastResortID *uint32 `json:"last_resort_key_id,omitempty"`
}

// DeviceKeys is one device's bundle as a sender fetches it: the identity
// key, the signed prekey, and a one-time prekey claimed for the requester
// (or the last-resort key when the stock is empty; Kind tells which).
type DeviceKeys struct {
	UserID       string  `json:"user_id"`
	DeviceID     string  `json:"device_id"`
	IdentityKey  []byte  `json:"identity_key"`
	SignedPrekey *Prekey `json:"signed_prekey,omitempty"`
	Prekey       *Prekey `json:"prekey,omitempty"`
}

// KeyStore is the key directory.
type KeyStore interface {
	// PutKeys stores an upload after checking every signature, and returns
	// the device's counts afterwards, and whether this upload set the
	// device's identity key (the device just became a recipient: its
	// user's peers are told). EINVALID for a bad key, ECONFLICT for
	// another identity key than the one set, ETOOLARGE over a cap.
	PutKeys(ctx context.Context, d *Device, up KeyUpload) (counts []KeyCount, newIdentity bool, err error)
	// KeyCounts returns a device's counts, one per KEM it has keys of.
	KeyCounts(ctx context.Context, deviceID string) ([]KeyCount, error)
	// KeyDigest returns KeyDigest over what the directory holds for the
	// device; ENOTFOUND when it has no identity key.
	KeyDigest(ctx context.Context, deviceID string) ([32]byte, error)
	// ClaimKeys returns a bundle of kem for each live device of userID
	// that has keys (or only deviceID when set), claiming one one-time
	// prekey of each atomically: no key is ever handed out twice.
	// Devices without keys of kem fall back to X25519. The returned
	// counts say whose stock fell low, for EventKeysLow.
	ClaimKeys(ctx context.Context, userID, deviceID string, kem KEM) ([]DeviceKeys, []ClaimedStock, error)
	// Identities lists the identity keys of userID's live devices that
	// have one (DeviceKeys without prekeys), claiming nothing: what a
	// contact's safety number is computed over. ENOTFOUND when none.
	Identities(ctx context.Context, userID string) ([]DeviceKeys, error)
	// Peers lists the users who share a conversation with userID, userID
	// included: those told when userID's devices change.
	Peers(ctx context.Context, userID string) ([]string, error)
}

// ClaimedStock is a claimed device's remaining one-time stock of a KEM.
type ClaimedStock struct {
	UserID, DeviceID string
	KEM              KEM
	OneTime          int
	LastResortUsed   bool
}
