package e2e

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/hpke"
	"encoding/binary"
	"errors"
)

// The fixed parts of the suite. HPKE runs in base mode (RFC 9180 §5.1.1)
// with HKDF-SHA256 and AES-256-GCM whatever the KEM, so a wrap differs
// between KEMs only in its encapsulated key.
var (
	ecdhX25519 = ecdh.X25519()
	hpkeKDF    = hpke.HKDFSHA256()
	hpkeAEAD   = hpke.AES256GCM()
)

// Version is the first byte of every wire format in this package; a
// reader refuses any other.
const Version = 0x01

// Wire format types, the second byte.
const (
	typeMessage   = 0x01
	typeSenderKey = 0x02
	// typeDistribution wraps a sealed sender key in a mailbox payload.
	typeDistribution = 0x03
)

// ErrDecrypt is returned for anything that fails to authenticate: a wrong
// key, a changed byte, a bad signature, a replayed message whose key is
// gone. Callers cannot and need not tell these apart.
var ErrDecrypt = errors.New("e2e: message failed to authenticate")

// ErrFormat is returned for bytes that are not one of our formats.
var ErrFormat = errors.New("e2e: malformed input")

// appendString appends s with a 2-byte big-endian length, so that
// concatenated fields can never be read two ways.
func appendString(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(s)))
	return append(b, s...)
}

// gcm returns AES-256-GCM with the standard 12-byte nonce and 16-byte tag.
func gcm(key []byte) cipher.AEAD {
	block, err := aes.NewCipher(key)
	if err != nil {
		panic(err) // keys here are always 32 bytes
	}
	a, err := cipher.NewGCM(block)
	if err != nil {
		panic(err)
	}
	return a
}
