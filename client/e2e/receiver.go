package e2e

import (
	"crypto/ed25519"
	"errors"
)

// Limits on a receiving chain. A message more than MaxSkip iterations
// ahead is refused (it would cost that many HKDF steps), and at most
// MaxSkippedKeys keys of messages not yet seen are kept, oldest dropped.
const (
	MaxSkip        = 2000
	MaxSkippedKeys = 2000
)

// ErrTooFarAhead is returned for a message more than MaxSkip iterations
// past the chain.
var ErrTooFarAhead = errors.New("e2e: message too far ahead of its chain")

// ReceiverChain is a recipient's copy of another device's chain. Each
// message key is deleted once used, so a message decrypts once: a replay
// fails with ErrDecrypt. It is not safe for concurrent use.
type ReceiverChain struct {
	ConversationID string
	SenderDeviceID string
	key            SenderKey
	skipped        map[uint32][messageKeySize]byte
	skippedOrder   []uint32
}

// NewReceiverChain starts reading a chain from the sender key the sender
// sealed to this device.
func NewReceiverChain(conversationID, senderDeviceID string, k SenderKey) *ReceiverChain {
	return &ReceiverChain{ConversationID: conversationID, SenderDeviceID: senderDeviceID, key: k,
		skipped: map[uint32][messageKeySize]byte{}}
}

// ChainID names the chain, as messages do.
func (r *ReceiverChain) ChainID() [16]byte { return r.key.ChainID }

// Decrypt opens one message envelope of this chain. The signature is
// checked before any key is derived, so forged envelopes cost no state.
func (r *ReceiverChain) Decrypt(envelope []byte) ([]byte, error) {
	h, err := parseEnvelope(envelope)
	if err != nil {
		return nil, err
	}
	if h.chainID != r.key.ChainID {
		return nil, ErrDecrypt
	}
	aad := envelopeAAD(r.ConversationID, r.SenderDeviceID, envelope[:envelopeHeaderSize])
	signed := append(aad, h.ciphertext...)
	if !ed25519.Verify(r.key.SigningKey[:], signed, h.signature) {
		return nil, ErrDecrypt
	}
	mk, err := r.messageKey(h.iteration)
	if err != nil {
		return nil, err
	}
	a := gcm(mk[:32])
	padded, err := a.Open(nil, mk[32:], h.ciphertext, aad)
	if err != nil {
		return nil, ErrDecrypt
	}
	return unpad(padded)
}

// messageKey returns and forgets the key of iteration it: a kept key of a
// skipped message, or the chain advanced to it (keeping the keys skipped
// on the way for messages still to come).
func (r *ReceiverChain) messageKey(it uint32) ([messageKeySize]byte, error) {
	if mk, ok := r.skipped[it]; ok {
		delete(r.skipped, it)
		return mk, nil
	}
	if it < r.key.Iteration {
		// Used already (a replay) or from before this device joined.
		return [messageKeySize]byte{}, ErrDecrypt
	}
	if it-r.key.Iteration > MaxSkip {
		return [messageKeySize]byte{}, ErrTooFarAhead
	}
	for r.key.Iteration < it {
		mk, nk := step(r.key.ChainKey)
		r.keep(r.key.Iteration, mk)
		r.key.ChainKey, r.key.Iteration = nk, r.key.Iteration+1
	}
	mk, nk := step(r.key.ChainKey)
	r.key.ChainKey, r.key.Iteration = nk, r.key.Iteration+1
	return mk, nil
}

func (r *ReceiverChain) keep(it uint32, mk [messageKeySize]byte) {
	r.skipped[it] = mk
	r.skippedOrder = append(r.skippedOrder, it)
	for len(r.skipped) > MaxSkippedKeys && len(r.skippedOrder) > 0 {
		delete(r.skipped, r.skippedOrder[0])
		r.skippedOrder = r.skippedOrder[1:]
	}
}
