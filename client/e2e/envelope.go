package e2e

import (
	"crypto/ed25519"
	"encoding/binary"
)

// A message envelope, the body of a message in an encrypted conversation:
//
//	version (1) = 0x01 | type (1) = 0x01 | chain ID (16) | iteration (4, BE)
//	| AES-256-GCM ciphertext of the padded plaintext, tag included
//	| Ed25519 signature (64) by the chain's signing key
//
// The GCM additional data is envelopeAAD (conversation and sender device
// bound in, so a server cannot replay a message into another conversation
// or as another device); the signature covers that data and the ciphertext.
const (
	envelopeHeaderSize = 2 + 16 + 4
	envelopeOverhead   = envelopeHeaderSize + 16 + ed25519.SignatureSize
	labelMessage       = "courier-e2e-v1 message"
)

// padBlock: plaintexts are padded to a multiple of this many bytes, so
// the server sees a message's size only to the nearest 128 bytes.
const padBlock = 128

// Encrypt seals plaintext as the chain's next message, in conversationID
// from senderDeviceID, and deletes its message key.
func (c *SenderChain) Encrypt(conversationID, senderDeviceID string, plaintext []byte) []byte {
	it, mk := c.next()
	env := make([]byte, 0, envelopeOverhead+len(plaintext)+padBlock)
	env = append(env, Version, typeMessage)
	env = append(env, c.key.ChainID[:]...)
	env = binary.BigEndian.AppendUint32(env, it)
	aad := envelopeAAD(conversationID, senderDeviceID, env)
	env = gcm(mk[:32]).Seal(env, mk[32:], pad(plaintext), aad)
	signed := append(aad, env[envelopeHeaderSize:]...)
	return append(env, ed25519.Sign(c.signing, signed)...)
}

// envelopeAAD is the label, a zero byte, the length-prefixed conversation
// and sender device IDs, and the envelope's header.
func envelopeAAD(conversationID, senderDeviceID string, header []byte) []byte {
	b := make([]byte, 0, len(labelMessage)+5+len(conversationID)+len(senderDeviceID)+len(header)+padBlock)
	b = append(append(b, labelMessage...), 0)
	b = appendString(b, conversationID)
	b = appendString(b, senderDeviceID)
	return append(b, header...)
}

type envelopeParts struct {
	chainID    [16]byte
	iteration  uint32
	ciphertext []byte
	signature  []byte
}

// EnvelopeChainID returns the chain an envelope belongs to, so a receiver
// can find its ReceiverChain (keyed by sender device and chain ID).
func EnvelopeChainID(envelope []byte) ([16]byte, error) {
	h, err := parseEnvelope(envelope)
	return h.chainID, err
}

func parseEnvelope(b []byte) (envelopeParts, error) {
	var h envelopeParts
	if len(b) < envelopeOverhead || b[0] != Version || b[1] != typeMessage {
		return h, ErrFormat
	}
	copy(h.chainID[:], b[2:18])
	h.iteration = binary.BigEndian.Uint32(b[18:22])
	h.ciphertext = b[envelopeHeaderSize : len(b)-ed25519.SignatureSize]
	h.signature = b[len(b)-ed25519.SignatureSize:]
	return h, nil
}

// pad appends 0x80 and zeros up to a multiple of padBlock (ISO/IEC
// 7816-4 padding): unambiguous to remove whatever the plaintext ends in.
func pad(p []byte) []byte {
	n := (len(p)/padBlock + 1) * padBlock
	out := make([]byte, n)
	copy(out, p)
	out[len(p)] = 0x80
	return out
}

func unpad(p []byte) ([]byte, error) {
	i := len(p) - 1
	for i >= 0 && p[i] == 0 {
		i--
	}
	if i < 0 || p[i] != 0x80 {
		return nil, ErrFormat
	}
	return p[:i], nil
}
