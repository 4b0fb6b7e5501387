package e2e

import (
	"bytes"
	"crypto/hpke"
	"encoding/json"
	"os"
	"testing"

	"github.com/courier-chat/courier"
)

// The suite's identifiers are RFC 9180's (§7.1 KEM 0x0020 DHKEM(X25519,
// HKDF-SHA256), §7.2 KDF 0x0001 HKDF-SHA256, §7.3 AEAD 0x0002 AES-256-GCM)
// and draft-ietf-hpke-pq's (0x647a MLKEM768-X25519): the numbers a Swift
// client gets from CryptoKit's HPKE.Ciphersuite.
func TestSuiteIdentifiers(t *testing.T) {
	for _, c := range []struct {
		name      string
		got, want uint16
	}{
		{"x25519 kem", mustKEM(t, courier.KEMX25519).ID(), 0x0020},
		{"xwing kem", mustKEM(t, courier.KEMXWing).ID(), 0x647a},
		{"kdf", hpkeKDF.ID(), 0x0001},
		{"aead", hpkeAEAD.ID(), 0x0002},
	} {
		if c.got != c.want {
			t.Errorf("%s: id %#04x, want %#04x", c.name, c.got, c.want)
		}
	}
}

func mustKEM(t *testing.T, k courier.KEM) hpke.KEM {
	t.Helper()
	kem, err := hpkeKEM(k)
	if err != nil {
		t.Fatal(err)
	}
	return kem
}

// TestHPKESpecVectors runs the published base-mode vectors of our two KEMs
// (testdata/hpke-spec.json, from RFC 9180 Appendix A and draft-ietf-hpke-pq)
// through the calls the package makes: DeriveKeyPair (§7.1.3), which pins
// every prekey in vectors.json, gives the published key pairs and the
// ephemeral key behind enc; and a recipient context (§5.1, §5.2) opens the
// published ciphertexts with their info and aad.
func TestHPKESpecVectors(t *testing.T) {
	b, err := os.ReadFile("testdata/hpke-spec.json")
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Vectors []struct {
			Mode        int      `json:"mode"`
			KEM         uint16   `json:"kem_id"`
			KDF         uint16   `json:"kdf_id"`
			AEAD        uint16   `json:"aead_id"`
			Info        hexBytes `json:"info"`
			IkmE        hexBytes `json:"ikmE"`
			IkmR        hexBytes `json:"ikmR"`
			SkRm        hexBytes `json:"skRm"`
			PkRm        hexBytes `json:"pkRm"`
			Enc         hexBytes `json:"enc"`
			Encryptions []struct {
				AAD hexBytes `json:"aad"`
				CT  hexBytes `json:"ct"`
				PT  hexBytes `json:"pt"`
			} `json:"encryptions"`
		} `json:"vectors"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	if len(f.Vectors) != 2 {
		t.Fatalf("%d vectors, want 2", len(f.Vectors))
	}
	for _, v := range f.Vectors {
		kem := mustKEM(t, courier.KEM(v.KEM))
		sk, err := kem.DeriveKeyPair(v.IkmR)
		if err != nil {
			t.Fatal(err)
		}
		skb, _ := sk.Bytes()
		if v.KEM == 0x0020 {
			// SerializePrivateKey clamps X25519 keys (§7.1.2); the
			// published skRm is DeriveKeyPair's output before clamping.
			v.SkRm[0] &= 248
			v.SkRm[31] = v.SkRm[31]&127 | 64
		}
		if !bytes.Equal(skb, v.SkRm) || !bytes.Equal(sk.PublicKey().Bytes(), v.PkRm) {
			t.Errorf("kem %#04x: DeriveKeyPair(ikmR) differs from skRm/pkRm", v.KEM)
		}
		if len(v.Enc) != encSize(courier.KEM(v.KEM)) {
			t.Errorf("kem %#04x: enc is %d bytes, encSize says %d", v.KEM, len(v.Enc), encSize(courier.KEM(v.KEM)))
		}
		if v.KEM == 0x0020 {
			// DHKEM's enc is the serialized ephemeral public key (§4.1).
			ske, err := kem.DeriveKeyPair(v.IkmE)
			if err != nil || !bytes.Equal(ske.PublicKey().Bytes(), v.Enc) {
				t.Errorf("DHKEM: DeriveKeyPair(ikmE) is not enc: %v", err)
			}
		}
		kdf, _ := hpke.NewKDF(v.KDF)
		aead, _ := hpke.NewAEAD(v.AEAD)
		r, err := hpke.NewRecipient(v.Enc, sk, kdf, aead, v.Info)
		if err != nil {
			t.Fatal(err)
		}
		for i, e := range v.Encryptions {
			pt, err := r.Open(e.AAD, e.CT)
			if err != nil || !bytes.Equal(pt, e.PT) {
				t.Errorf("kem %#04x: encryption %d did not open to pt: %v", v.KEM, i, err)
			}
		}
	}
}
