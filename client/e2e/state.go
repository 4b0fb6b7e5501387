package e2e

import (
	"crypto/ed25519"
	"crypto/hpke"
	"encoding/binary"
	"time"

	"github.com/courier-chat/courier"
)

// Chains are kept on the device between runs in these local formats.
// They never leave the device, so only this package reads them; they are
// versioned like the wire formats all the same.
//
//	sender chain:   version (1) | sender key (84) | signing seed (32) | created (8, Unix ns, BE)
//	receiver chain: version (1) | conversation ID, sender device ID (2-byte length each)
//	                | sender key (84) | skipped keys (4, BE) | each: iteration (4, BE) | message key (44)

// MarshalBinary returns the chain's state, secret keys included.
func (c *SenderChain) MarshalBinary() ([]byte, error) {
	b := append([]byte{Version}, c.key.marshal()...)
	b = append(b, c.signing.Seed()...)
	return binary.BigEndian.AppendUint64(b, uint64(c.Created.UnixNano())), nil
}

// UnmarshalSenderChain reads a chain MarshalBinary wrote. Recipients are
// the caller's to restore.
func UnmarshalSenderChain(b []byte) (*SenderChain, error) {
	if len(b) != 1+senderKeySize+ed25519.SeedSize+8 || b[0] != Version {
		return nil, ErrFormat
	}
	k := unmarshalSenderKey(b[1 : 1+senderKeySize])
	seed := b[1+senderKeySize : 1+senderKeySize+ed25519.SeedSize]
	created := time.Unix(0, int64(binary.BigEndian.Uint64(b[len(b)-8:])))
	c := SenderChainFrom(k.ChainID, k.ChainKey, seed, created)
	if c.key.SigningKey != k.SigningKey {
		return nil, ErrFormat
	}
	c.key.Iteration = k.Iteration
	return c, nil
}

func unmarshalSenderKey(b []byte) SenderKey {
	var k SenderKey
	copy(k.ChainID[:], b[:16])
	k.Iteration = binary.BigEndian.Uint32(b[16:20])
	copy(k.ChainKey[:], b[20:52])
	copy(k.SigningKey[:], b[52:84])
	return k
}

// MarshalBinary returns the receiving chain's state with the keys of
// messages skipped and not yet seen.
func (r *ReceiverChain) MarshalBinary() ([]byte, error) {
	b := appendString([]byte{Version}, r.ConversationID)
	b = appendString(b, r.SenderDeviceID)
	b = append(b, r.key.marshal()...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(r.skippedOrder)))
	for _, it := range r.skippedOrder {
		mk := r.skipped[it]
		b = binary.BigEndian.AppendUint32(b, it)
		b = append(b, mk[:]...)
	}
	return b, nil
}

// UnmarshalReceiverChain reads a chain MarshalBinary wrote.
func UnmarshalReceiverChain(b []byte) (*ReceiverChain, error) {
	if len(b) < 1 || b[0] != Version {
		return nil, ErrFormat
	}
	b = b[1:]
	conv, b, ok := readString(b)
	dev, b, ok2 := readString(b)
	if !ok || !ok2 || len(b) < senderKeySize+4 {
		return nil, ErrFormat
	}
	r := NewReceiverChain(conv, dev, unmarshalSenderKey(b[:senderKeySize]))
	n := int(binary.BigEndian.Uint32(b[senderKeySize:]))
	b = b[senderKeySize+4:]
	if n > MaxSkippedKeys || len(b) != n*(4+messageKeySize) {
		return nil, ErrFormat
	}
	for i := 0; i < n; i++ {
		var mk [messageKeySize]byte
		copy(mk[:], b[4:4+messageKeySize])
		r.keep(binary.BigEndian.Uint32(b), mk)
		b = b[4+messageKeySize:]
	}
	return r, nil
}

func readString(b []byte) (string, []byte, bool) {
	if len(b) < 2 || len(b) < 2+int(binary.BigEndian.Uint16(b)) {
		return "", nil, false
	}
	n := int(binary.BigEndian.Uint16(b))
	return string(b[2 : 2+n]), b[2+n:], true
}

// PrivateKey reads the private half of a prekey of kem as
// hpke.PrivateKey.Bytes wrote it, to keep prekeys on the device.
func PrivateKey(kem courier.KEM, b []byte) (hpke.PrivateKey, error) {
	k, err := hpkeKEM(kem)
	if err != nil {
		return nil, err
	}
	return k.NewPrivateKey(b)
}

// A sender key travels in a device mailbox as a distribution message, which
// names the conversation the chain is for (the recipient needs it to open
// the sealed key, whose HPKE info binds it):
//
//	version (1) = 0x01 | type (1) = 0x03 | conversation ID (2-byte length, BE)
//	| sealed sender key (the rest)

// Distribution wraps a sealed sender key for the mailbox.
func Distribution(conversationID string, sealed []byte) []byte {
	return append(appendString([]byte{Version, typeDistribution}, conversationID), sealed...)
}

// OpenDistribution splits a mailbox payload into its conversation and
// sealed sender key.
func OpenDistribution(payload []byte) (conversationID string, sealed []byte, err error) {
	if len(payload) < 2 || payload[0] != Version || payload[1] != typeDistribution {
		return "", nil, ErrFormat
	}
	conv, rest, ok := readString(payload[2:])
	if !ok || conv == "" {
		return "", nil, ErrFormat
	}
	return conv, rest, nil
}
