package e2e

import (
	"bytes"
	"crypto/sha512"
	"fmt"
	"slices"
	"strings"
)

// Safety numbers follow Signal's numeric fingerprint, over a user's set of
// device identity keys (each device has its own identity here). A user's
// fingerprint is SHA-512 iterated 5200 times: first over the version
// (2 bytes, 0x0000), the sorted concatenated identity keys and the user
// ID; then over the previous hash and the keys again. Its first 30 bytes,
// as six 5-byte big-endian numbers each mod 100000, give 30 digits. The
// safety number is the two users' 30 digits, the smaller string first, so
// both sides read the same 60 digits. The iterations make finding another
// key set with the same number cost 5200 hashes per try.
const fingerprintIterations = 5200

func sortedKeys(keys [][]byte) []byte {
	k := slices.Clone(keys)
	slices.SortFunc(k, bytes.Compare)
	return bytes.Join(k, nil)
}

func fingerprintDigits(userID string, keys [][]byte) string {
	ks := sortedKeys(keys)
	h := sha512.New()
	h.Write([]byte{0, 0})
	h.Write(ks)
	h.Write([]byte(userID))
	sum := h.Sum(nil)
	for i := 0; i < fingerprintIterations; i++ {
		h.Reset()
		h.Write(sum)
		h.Write(ks)
		sum = h.Sum(sum[:0])
	}
	var s strings.Builder
	for i := 0; i < 30; i += 5 {
		var n uint64
		for _, c := range sum[i : i+5] {
			n = n<<8 | uint64(c)
		}
		fmt.Fprintf(&s, "%05d", n%100000)
	}
	return s.String()
}

// SafetyNumber is the 60-digit number two users compare out of band (in
// person, or by scanning it as a QR code): equal on both sides only when
// each holds the other's real device identity keys.
func SafetyNumber(userA string, keysA [][]byte, userB string, keysB [][]byte) string {
	a, b := fingerprintDigits(userA, keysA), fingerprintDigits(userB, keysB)
	if b < a {
		a, b = b, a
	}
	return a + b
}

// Trust is what a device shows about a contact's identity keys.
type Trust int

const (
	// TrustUnverified: keys as first seen (trust on first use).
	TrustUnverified Trust = iota
	// TrustVerified: the user compared safety numbers for these keys.
	TrustVerified
	// TrustChanged: the contact's keys differ from those seen before (a
	// device added or removed, or a reinstall): warn before sending.
	TrustChanged
)

// Contact is what a device remembers of another user's identity keys.
type Contact struct {
	UserID   string
	Keys     [][]byte
	Verified bool
}

// Check compares the keys the directory serves now with those seen.
// Changed stays until the user accepts the new keys (Accept).
func (c *Contact) Check(current [][]byte) Trust {
	if c.Keys != nil && !bytes.Equal(sortedKeys(c.Keys), sortedKeys(current)) {
		return TrustChanged
	}
	if c.Keys == nil {
		c.Keys = current // first use
	}
	if c.Verified {
		return TrustVerified
	}
	return TrustUnverified
}

// Accept takes current as the contact's keys; verified says the user
// compared the safety number for them.
func (c *Contact) Accept(current [][]byte, verified bool) {
	c.Keys, c.Verified = current, verified
}
