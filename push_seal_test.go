package courier_test

import (
	"crypto/hpke"
	"encoding/hex"
	"encoding/json"
	"flag"
	"os"
	"reflect"
	"strings"
	"testing"
	"testing/cryptotest"

	"github.com/courier-chat/courier"
)

var updateVectors = flag.Bool("update-push-vectors", false, "rewrite testdata/push_vectors.json")

// pushVector pins the sealed push format byte for byte, for an extension
// written in another language: derive the key pair from IKM (RFC 9180
// DeriveKeyPair), open Sealed with info "courier push v1", and read
// Plaintext, a PushPreview as JSON.
type pushVector struct {
	Name       string `json:"name"`
	KEM        string `json:"kem"`
	KEMID      uint16 `json:"kem_id"`
	KDFID      uint16 `json:"kdf_id"`
	AEADID     uint16 `json:"aead_id"`
	Info       string `json:"info"`
	IKM        string `json:"ikm"`         // hex
	PrivateKey string `json:"private_key"` // hex, SerializePrivateKey
	PublicKey  string `json:"public_key"`  // hex, SerializePublicKey
	Plaintext  string `json:"plaintext"`   // the preview JSON, as sealed
	Sealed     string `json:"sealed"`      // hex, enc || ciphertext
}

const vectorsFile = "testdata/push_vectors.json"

func previews() map[string]*courier.PushPreview {
	return map[string]*courier.PushPreview{
		"plain text": {V: 1, Kind: courier.PushMessage, ConversationID: "cXv2kq7tQ0yS1lR3nB8wZg", Seq: 42,
			SentAt: 1764892800123, SenderID: "uA1b2C3d4E5f6G7h8I9j0K", SenderName: "Ada", Text: "Lunch at 1? 🍜", Unread: 3},
		"group photo": {V: 1, Kind: courier.PushMessage, ConversationID: "gXv2kq7tQ0yS1lR3nB8wZg", Seq: 7,
			SentAt: 1764892800456, SenderID: "uA1b2C3d4E5f6G7h8I9j0K", SenderName: "Ada", ConversationName: "Climbing",
			Attachment: "photo", Attachments: 2, Unread: 1},
		"encrypted fetch": {V: 1, Kind: courier.PushMessage, ConversationID: "eXv2kq7tQ0yS1lR3nB8wZg", Seq: 9,
			SentAt: 1764892800789, Encrypted: true, Unread: 1},
	}
}

func TestPushVectors(t *testing.T) {
	if *updateVectors {
		writeVectors(t)
	}
	raw, err := os.ReadFile(vectorsFile)
	if err != nil {
		t.Fatal(err)
	}
	var vs []pushVector
	if err := json.Unmarshal(raw, &vs); err != nil {
		t.Fatal(err)
	}
	if len(vs) != 2*len(previews()) {
		t.Fatalf("%d vectors, want %d", len(vs), 2*len(previews()))
	}
	for _, v := range vs {
		t.Run(v.KEM+"/"+v.Name, func(t *testing.T) {
			kem, err := hpke.NewKEM(v.KEMID)
			if err != nil {
				t.Fatal(err)
			}
			sk, err := kem.DeriveKeyPair(unhex(t, v.IKM))
			if err != nil {
				t.Fatal(err)
			}
			priv, _ := sk.Bytes()
			if hex.EncodeToString(priv) != v.PrivateKey || hex.EncodeToString(sk.PublicKey().Bytes()) != v.PublicKey {
				t.Fatal("DeriveKeyPair(ikm) gives other keys than the vector")
			}
			// The extension's side: the vector opens to its plaintext.
			kdf, _ := hpke.NewKDF(v.KDFID)
			aead, _ := hpke.NewAEAD(v.AEADID)
			plain, err := hpke.Open(sk, kdf, aead, []byte(v.Info), unhex(t, v.Sealed))
			if err != nil || string(plain) != v.Plaintext {
				t.Fatalf("open: %q, %v; want %q", plain, err, v.Plaintext)
			}
			got, err := courier.OpenPush(v.KEM, priv, unhex(t, v.Sealed))
			if err != nil || !reflect.DeepEqual(got, previews()[v.Name]) {
				t.Fatalf("OpenPush: %+v, %v", got, err)
			}
			// The server's side: with the same randomness SealPush writes
			// the vector's bytes exactly.
			cryptotest.SetGlobalRandom(t, 1)
			sealed, err := courier.SealPush(v.KEM, unhex(t, v.PublicKey), previews()[v.Name])
			if err != nil || hex.EncodeToString(sealed) != v.Sealed {
				t.Fatalf("SealPush wrote other bytes than the vector (err %v)", err)
			}
		})
	}
}

// writeVectors regenerates the vectors: `go test -run TestPushVectors
// -update-push-vectors .` after a deliberate format change.
func writeVectors(t *testing.T) {
	var vs []pushVector
	suites := []struct {
		kem            string
		kemID, kdf, ae uint16
	}{
		{courier.PushKEMX25519, 0x0020, 0x0001, 0x0003},
		{courier.PushKEMXWing, 0x647a, 0x0001, 0x0002},
	}
	names := []string{"plain text", "group photo", "encrypted fetch"}
	for _, s := range suites {
		for i, name := range names {
			kem, _ := hpke.NewKEM(s.kemID)
			ikm := []byte(strings.Repeat(string(rune('a'+i)), 32))
			sk, err := kem.DeriveKeyPair(ikm)
			if err != nil {
				t.Fatal(err)
			}
			priv, _ := sk.Bytes()
			plain, _ := json.Marshal(previews()[name])
			var sealed []byte
			t.Run("gen", func(t *testing.T) {
				cryptotest.SetGlobalRandom(t, 1)
				sealed, err = courier.SealPush(s.kem, sk.PublicKey().Bytes(), previews()[name])
			})
			if err != nil {
				t.Fatal(err)
			}
			vs = append(vs, pushVector{Name: name, KEM: s.kem, KEMID: s.kemID, KDFID: s.kdf, AEADID: s.ae,
				Info: courier.PushSealInfo, IKM: hex.EncodeToString(ikm), PrivateKey: hex.EncodeToString(priv),
				PublicKey: hex.EncodeToString(sk.PublicKey().Bytes()), Plaintext: string(plain), Sealed: hex.EncodeToString(sealed)})
		}
	}
	out, _ := json.MarshalIndent(vs, "", "  ")
	if err := os.WriteFile(vectorsFile, append(out, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
}

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestPushRegistrationValidate(t *testing.T) {
	xk, _ := hpke.MLKEM768X25519().GenerateKey()
	ok := courier.PushRegistration{Service: courier.PushAPNs, Token: strings.Repeat("ab", 32), Topic: "chat.courier.app",
		Environment: courier.PushSandbox, KEM: courier.PushKEMXWing, PublicKey: xk.PublicKey().Bytes()}
	for _, tc := range []struct {
		name string
		edit func(r *courier.PushRegistration)
		ok   bool
	}{
		{"apns with x-wing key", func(r *courier.PushRegistration) {}, true},
		{"fcm without key", func(r *courier.PushRegistration) {
			r.Service, r.Topic, r.Environment, r.KEM, r.PublicKey = courier.PushFCM, "", "", "", nil
		}, true},
		{"unknown service", func(r *courier.PushRegistration) { r.Service = "mpns" }, false},
		{"empty token", func(r *courier.PushRegistration) { r.Token = "" }, false},
		{"token with a newline", func(r *courier.PushRegistration) { r.Token = "ab\ncd" }, false},
		{"apns without topic", func(r *courier.PushRegistration) { r.Topic = "" }, false},
		{"apns without environment", func(r *courier.PushRegistration) { r.Environment = "" }, false},
		{"key of the wrong kem", func(r *courier.PushRegistration) { r.KEM = courier.PushKEMX25519 }, false},
		{"kem without key", func(r *courier.PushRegistration) { r.PublicKey = nil }, false},
		{"unknown kem", func(r *courier.PushRegistration) { r.KEM = "p256" }, false},
	} {
		r := ok
		tc.edit(&r)
		if err := r.Validate(); (err == nil) != tc.ok || (err != nil && courier.ErrorCode(err) != courier.EINVALID) {
			t.Errorf("%s: %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
}

func TestExcerpt(t *testing.T) {
	for _, tc := range []struct {
		body      string
		max       int
		want      string
		truncated bool
		ok        bool
	}{
		{"hello", 10, "hello", false, true},
		{"héllo", 2, "h", true, true}, // never half an é
		{"🍜🍜", 5, "🍜", true, true},
		{"\xff\xfe", 10, "", false, false},
	} {
		got, tr, ok := courier.Excerpt([]byte(tc.body), tc.max)
		if got != tc.want || tr != tc.truncated || ok != tc.ok {
			t.Errorf("Excerpt(%q, %d) = %q %v %v", tc.body, tc.max, got, tr, ok)
		}
	}
}
