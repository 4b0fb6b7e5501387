package e2e

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"flag"
	"os"
	"testing"
	"testing/cryptotest"

	"github.com/courier-chat/courier"
)

// go test ./client/e2e -run TestVectors -update rewrites testdata/vectors.json
// from the fixed inputs below. Everything but the HPKE wraps is
// deterministic and compared byte for byte; a wrap's encapsulation is
// random by design (RFC 9180), so its pinned bytes are opened instead, which
// is what a second implementation must do with them too.
var update = flag.Bool("update", false, "rewrite testdata/vectors.json")

const vectorsFile = "testdata/vectors.json"

type hexBytes []byte

func (h hexBytes) MarshalText() ([]byte, error) { return []byte(hex.EncodeToString(h)), nil }
func (h *hexBytes) UnmarshalText(b []byte) error {
	d, err := hex.DecodeString(string(b))
	*h = d
	return err
}

// fill returns n bytes of the given value: readable fixed inputs.
func fill(n int, b byte) hexBytes { return bytes.Repeat([]byte{b}, n) }

type prekeyVector struct {
	IdentitySeed hexBytes           `json:"identity_seed"`
	Identity     hexBytes           `json:"identity_public"`
	KEM          courier.KEM        `json:"kem"`
	Kind         courier.PrekeyKind `json:"kind"`
	KeyID        uint32             `json:"key_id"`
	IKM          hexBytes           `json:"ikm"`
	PrivateKey   hexBytes           `json:"private_key"`
	PublicKey    hexBytes           `json:"public_key"`
	SignedData   hexBytes           `json:"signed_data"`
	Signature    hexBytes           `json:"signature"`
}

type stepVector struct {
	Iteration    uint32   `json:"iteration"`
	ChainKey     hexBytes `json:"chain_key"`
	MessageKey   hexBytes `json:"message_key"` // AES-256 key
	Nonce        hexBytes `json:"nonce"`
	NextChainKey hexBytes `json:"next_chain_key"`
}

type envelopeVector struct {
	ChainID        hexBytes `json:"chain_id"`
	ChainKey       hexBytes `json:"chain_key"` // at iteration 0
	SigningSeed    hexBytes `json:"signing_seed"`
	SigningKey     hexBytes `json:"signing_public"`
	ConversationID string   `json:"conversation_id"`
	SenderDeviceID string   `json:"sender_device_id"`
	Iteration      uint32   `json:"iteration"` // messages sent before this one
	Plaintext      hexBytes `json:"plaintext"`
	AAD            hexBytes `json:"aad"`
	Envelope       hexBytes `json:"envelope"`
}

type senderKeyVector struct {
	SenderIdentitySeed hexBytes           `json:"sender_identity_seed"`
	RecipientIdentity  hexBytes           `json:"recipient_identity_seed"`
	RecipientKEM       courier.KEM        `json:"kem"`
	RecipientKind      courier.PrekeyKind `json:"kind"`
	RecipientKeyID     uint32             `json:"key_id"`
	RecipientIKM       hexBytes           `json:"recipient_prekey_ikm"`
	ConversationID     string             `json:"conversation_id"`
	SenderDeviceID     string             `json:"sender_device_id"`
	RecipientDeviceID  string             `json:"recipient_device_id"`
	Info               hexBytes           `json:"hpke_info"`
	SenderKey          hexBytes           `json:"sender_key"` // the 84 bytes sealed
	Sealed             hexBytes           `json:"sealed"`
	// Distribution is the mailbox payload carrying Sealed.
	Distribution hexBytes `json:"distribution"`
}

type mediaVector struct {
	Key        hexBytes `json:"key"`
	ChunkSize  int      `json:"chunk_size"`
	Plaintext  hexBytes `json:"plaintext"`
	Ciphertext hexBytes `json:"ciphertext"`
	Digest     hexBytes `json:"digest"`
}

type safetyVector struct {
	UserA  string     `json:"user_a"`
	KeysA  []hexBytes `json:"keys_a"`
	UserB  string     `json:"user_b"`
	KeysB  []hexBytes `json:"keys_b"`
	Number string     `json:"safety_number"`
}

type digestVector struct {
	Identity hexBytes `json:"identity_public"`
	Prekeys  []int    `json:"prekeys"` // indexes into prekeys
	Digest   hexBytes `json:"digest"`
}

type vectors struct {
	Comment    string            `json:"comment"`
	Prekeys    []prekeyVector    `json:"prekeys"`
	Steps      []stepVector      `json:"chain_steps"`
	Envelopes  []envelopeVector  `json:"envelopes"`
	SenderKeys []senderKeyVector `json:"sender_keys"`
	Media      []mediaVector     `json:"media"`
	Safety     []safetyVector    `json:"safety_numbers"`
	Digests    []digestVector    `json:"key_digests"`
}

// TestVectors checks the code against testdata/vectors.json: every
// deterministic byte equal, and every pinned sealed sender key opening to
// its sender key with the private key derived from its ikm.
func TestVectors(t *testing.T) {
	cryptotest.SetGlobalRandom(t, 1)
	got, err := buildVectors()
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		b, _ := json.MarshalIndent(got, "", "  ")
		if err := os.WriteFile(vectorsFile, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(vectorsFile)
	if err != nil {
		t.Fatal(err)
	}
	var want vectors
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatal(err)
	}
	sealed := want.SenderKeys
	got.SenderKeys, want.SenderKeys = nil, nil
	for _, c := range []struct {
		name      string
		got, want any
	}{
		{"prekeys", got.Prekeys, want.Prekeys}, {"chain_steps", got.Steps, want.Steps},
		{"envelopes", got.Envelopes, want.Envelopes}, {"media", got.Media, want.Media},
		{"safety_numbers", got.Safety, want.Safety}, {"key_digests", got.Digests, want.Digests},
	} {
		g, _ := json.Marshal(c.got)
		w, _ := json.Marshal(c.want)
		if !bytes.Equal(g, w) {
			t.Errorf("%s differ from %s:\n got %s\nwant %s", c.name, vectorsFile, g, w)
		}
	}
	if len(sealed) != 3 {
		t.Fatalf("%d sealed sender keys in %s, want 3", len(sealed), vectorsFile)
	}
	for _, s := range sealed {
		id := IdentityFromSeed(s.RecipientIdentity)
		p, err := id.DerivePrekey(s.RecipientKEM, s.RecipientKind, s.RecipientKeyID, s.RecipientIKM)
		if err != nil {
			t.Fatal(err)
		}
		k, err := OpenSenderKey(s.Sealed, s.ConversationID, s.SenderDeviceID, s.RecipientDeviceID, IdentityFromSeed(s.SenderIdentitySeed).Public(), p.Private)
		if err != nil {
			t.Errorf("%s: opening the pinned sealed sender key: %v", s.RecipientKEM, err)
		} else if !bytes.Equal(k.marshal(), s.SenderKey) {
			t.Errorf("%s: opened %x, want %x", s.RecipientKEM, k.marshal(), []byte(s.SenderKey))
		}
		if conv, inner, err := OpenDistribution(s.Distribution); err != nil || conv != s.ConversationID || !bytes.Equal(inner, s.Sealed) ||
			!bytes.Equal(Distribution(s.ConversationID, s.Sealed), s.Distribution) {
			t.Errorf("%s: the distribution payload differs: %v", s.RecipientKEM, err)
		}
		if !bytes.Equal(senderKeyInfo(s.ConversationID, s.SenderDeviceID, s.RecipientDeviceID), s.Info) {
			t.Errorf("%s: hpke info differs", s.RecipientKEM)
		}
	}
}
