package courier

import (
	"crypto/rand"
	"encoding/base64"
)

// NewID returns 128 random bits, URL-safe base64 without padding (22
// characters). Blob, user, device and conversation IDs are all of this form:
// unguessable, so knowing an ID grants nothing by itself.
func NewID() string {
	var b [16]byte
	rand.Read(b[:]) // never returns an error (crypto/rand docs)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// ValidID reports whether s has the shape NewID produces. Handlers check it
// before touching a store, so junk never reaches SQL or S3 keys.
func ValidID(s string) bool {
	if len(s) != 22 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
