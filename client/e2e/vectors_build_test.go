package e2e

import (
	"bytes"
	"crypto/ed25519"
	"time"

	"github.com/courier-chat/courier"
)

// buildVectors computes every vector from fixed inputs. The sealed sender
// keys come out the same only under cryptotest.SetGlobalRandom.
func buildVectors() (*vectors, error) {
	v := &vectors{Comment: "Courier e2e test vectors; docs/e2e.md defines every format. Bytes are hex."}
	id := IdentityFromSeed(fill(32, 0x01))
	pairs := map[int]*PrekeyPair{}
	for i, pk := range []struct {
		kem  courier.KEM
		kind courier.PrekeyKind
		id   uint32
		ikm  byte
	}{
		{courier.KEMXWing, courier.PrekeySigned, 1, 0x10},
		{courier.KEMXWing, courier.PrekeyLastResort, 2, 0x11},
		{courier.KEMXWing, courier.PrekeyOneTime, 100, 0x12},
		{courier.KEMX25519, courier.PrekeySigned, 3, 0x20},
		{courier.KEMX25519, courier.PrekeyLastResort, 4, 0x21},
		{courier.KEMX25519, courier.PrekeyOneTime, 200, 0x22},
	} {
		p, err := id.DerivePrekey(pk.kem, pk.kind, pk.id, fill(32, pk.ikm))
		if err != nil {
			return nil, err
		}
		priv, err := p.Private.Bytes()
		if err != nil {
			return nil, err
		}
		pairs[i] = p
		v.Prekeys = append(v.Prekeys, prekeyVector{
			IdentitySeed: id.Seed(), Identity: id.Public(), KEM: pk.kem, Kind: pk.kind, KeyID: pk.id,
			IKM: fill(32, pk.ikm), PrivateKey: priv, PublicKey: p.Public.PublicKey,
			SignedData: courier.PrekeySignedData(&p.Public), Signature: p.Public.Signature,
		})
	}
	v.Digests = append(v.Digests, digestVector{Identity: id.Public(), Prekeys: []int{0, 1, 3, 4}})
	d := courier.KeyDigest(id.Public(), []*courier.Prekey{&pairs[0].Public, &pairs[1].Public, &pairs[3].Public, &pairs[4].Public})
	v.Digests[0].Digest = d[:]

	ck := [32]byte(fill(32, 0x30))
	for it := uint32(0); it < 3; it++ {
		mk, next := step(ck)
		v.Steps = append(v.Steps, stepVector{Iteration: it, ChainKey: bytes.Clone(ck[:]), MessageKey: mk[:32], Nonce: mk[32:], NextChainKey: next[:]})
		ck = next
	}

	for _, ev := range []struct {
		before int
		text   string
	}{{0, "hello"}, {2, ""}, {0, string(bytes.Repeat([]byte("x"), 200))}} {
		c := SenderChainFrom([16]byte(fill(16, 0x40)), [32]byte(fill(32, 0x41)), fill(32, 0x42), time.Unix(0, 0))
		for range ev.before {
			c.next()
		}
		e := envelopeVector{ChainID: fill(16, 0x40), ChainKey: fill(32, 0x41), SigningSeed: fill(32, 0x42),
			SigningKey: c.key.SigningKey[:], ConversationID: "conv-1", SenderDeviceID: "device-a",
			Iteration: uint32(ev.before), Plaintext: []byte(ev.text)}
		e.Envelope = c.Encrypt(e.ConversationID, e.SenderDeviceID, e.Plaintext)
		e.AAD = envelopeAAD(e.ConversationID, e.SenderDeviceID, e.Envelope[:envelopeHeaderSize])
		v.Envelopes = append(v.Envelopes, e)
	}

	sender := IdentityFromSeed(fill(32, 0x50))
	chain := SenderChainFrom([16]byte(fill(16, 0x51)), [32]byte(fill(32, 0x52)), fill(32, 0x53), time.Unix(0, 0))
	for _, i := range []int{2, 5, 0} {
		pv := v.Prekeys[i]
		s := senderKeyVector{SenderIdentitySeed: sender.Seed(), RecipientIdentity: pv.IdentitySeed,
			RecipientKEM: pv.KEM, RecipientKind: pv.Kind, RecipientKeyID: pv.KeyID, RecipientIKM: pv.IKM,
			ConversationID: "conv-1", SenderDeviceID: "device-a", RecipientDeviceID: "device-b",
			SenderKey: chain.Key().marshal()}
		s.Info = senderKeyInfo(s.ConversationID, s.SenderDeviceID, s.RecipientDeviceID)
		sealed, err := sender.SealSenderKey(s.ConversationID, s.SenderDeviceID, s.RecipientDeviceID, &pairs[i].Public, chain.Key())
		if err != nil {
			return nil, err
		}
		s.Sealed, s.Distribution = sealed, Distribution(s.ConversationID, sealed)
		v.SenderKeys = append(v.SenderKeys, s)
	}

	for _, mv := range []struct {
		chunk int
		size  int
	}{{16, 0}, {16, 16}, {16, 40}, {32, 33}} {
		pt := make([]byte, mv.size)
		for i := range pt {
			pt[i] = byte(i)
		}
		m := MediaKey{Key: fill(32, 0x60), ChunkSize: mv.chunk, Size: int64(mv.size)}
		var ct bytes.Buffer
		if err := EncryptMedia(&m, bytes.NewReader(pt), &ct); err != nil {
			return nil, err
		}
		v.Media = append(v.Media, mediaVector{Key: m.Key, ChunkSize: m.ChunkSize, Plaintext: pt, Ciphertext: ct.Bytes(), Digest: m.Digest})
	}

	keyA1, keyA2 := ed25519.NewKeyFromSeed(fill(32, 0x70)), ed25519.NewKeyFromSeed(fill(32, 0x71))
	keyB := ed25519.NewKeyFromSeed(fill(32, 0x72))
	pub := func(k ed25519.PrivateKey) hexBytes { return hexBytes(k.Public().(ed25519.PublicKey)) }
	sv := safetyVector{UserA: "alice", KeysA: []hexBytes{pub(keyA1), pub(keyA2)}, UserB: "bob", KeysB: []hexBytes{pub(keyB)}}
	sv.Number = SafetyNumber(sv.UserA, toBytes(sv.KeysA), sv.UserB, toBytes(sv.KeysB))
	v.Safety = append(v.Safety, sv)
	return v, nil
}

func toBytes(h []hexBytes) [][]byte {
	out := make([][]byte, len(h))
	for i := range h {
		out[i] = h[i]
	}
	return out
}
