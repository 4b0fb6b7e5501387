package e2e

import (
	"errors"
	"testing"

	"github.com/courier-chat/courier"
)

func TestSealSenderKey(t *testing.T) {
	alice, bob := NewIdentity(), NewIdentity()
	chain := NewSenderChain()
	for _, kem := range courier.KEMs {
		for _, kind := range []courier.PrekeyKind{courier.PrekeyOneTime, courier.PrekeySigned, courier.PrekeyLastResort} {
			pk, err := bob.NewPrekey(kem, kind, 7)
			if err != nil {
				t.Fatal(err)
			}
			if err := pk.Public.Verify(bob.Public()); err != nil {
				t.Fatalf("%s %s: the directory would refuse it: %v", kem, kind, err)
			}
			sealed, err := alice.SealSenderKey("conv", "dev-a", "dev-b", &pk.Public, chain.Key())
			if err != nil {
				t.Fatal(err)
			}
			if k, id, err := SealedPrekey(sealed); err != nil || k != kem || id != 7 {
				t.Errorf("%s: SealedPrekey = %v %d %v", kem, k, id, err)
			}
			got, err := OpenSenderKey(sealed, "conv", "dev-a", "dev-b", alice.Public(), pk.Private)
			if err != nil || got != chain.Key() {
				t.Fatalf("%s %s: open: %v", kem, kind, err)
			}
		}
	}
}

// A sealed sender key opens only for the device, conversation and sender
// it was sealed for, and only unchanged.
func TestOpenSenderKeyRefuses(t *testing.T) {
	alice, bob, mallory := NewIdentity(), NewIdentity(), NewIdentity()
	pk, _ := bob.NewPrekey(courier.KEMXWing, courier.PrekeyOneTime, 1)
	otherPK, _ := bob.NewPrekey(courier.KEMXWing, courier.PrekeyOneTime, 2)
	sealed, err := alice.SealSenderKey("conv", "dev-a", "dev-b", &pk.Public, NewSenderChain().Key())
	if err != nil {
		t.Fatal(err)
	}
	forged, _ := mallory.SealSenderKey("conv", "dev-a", "dev-b", &pk.Public, NewSenderChain().Key())
	for _, tc := range []struct {
		name, conv, from, to string
		sealed               []byte
		signer               []byte
		priv                 *PrekeyPair
		want                 error
	}{
		{"other recipient device", "conv", "dev-a", "dev-c", sealed, alice.Public(), pk, ErrDecrypt},
		{"other conversation", "conv2", "dev-a", "dev-b", sealed, alice.Public(), pk, ErrDecrypt},
		{"other sender device", "conv", "dev-x", "dev-b", sealed, alice.Public(), pk, ErrDecrypt},
		{"signed by someone else", "conv", "dev-a", "dev-b", forged, alice.Public(), pk, ErrDecrypt},
		{"other prekey", "conv", "dev-a", "dev-b", sealed, alice.Public(), otherPK, ErrDecrypt},
		{"flipped enc byte", "conv", "dev-a", "dev-b", flip(sealed, 20), alice.Public(), pk, ErrDecrypt},
		{"truncated", "conv", "dev-a", "dev-b", sealed[:100], alice.Public(), pk, ErrFormat},
	} {
		if _, err := OpenSenderKey(tc.sealed, tc.conv, tc.from, tc.to, tc.signer, tc.priv.Private); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
}

func TestPrekeyVerifyRefuses(t *testing.T) {
	id := NewIdentity()
	pk, _ := id.NewPrekey(courier.KEMX25519, courier.PrekeySigned, 3)
	for _, tc := range []struct {
		name   string
		change func(p *courier.Prekey)
	}{
		{"kind changed (a one-time key passed off as signed)", func(p *courier.Prekey) { p.Kind = courier.PrekeyOneTime }},
		{"id changed", func(p *courier.Prekey) { p.KeyID = 4 }},
		{"key changed", func(p *courier.Prekey) { p.PublicKey = flip(p.PublicKey, 0) }},
		{"short key", func(p *courier.Prekey) { p.PublicKey = p.PublicKey[:31] }},
		{"no signature", func(p *courier.Prekey) { p.Signature = nil }},
		{"unknown kem", func(p *courier.Prekey) { p.KEM = 0x0010 }},
	} {
		p := pk.Public
		p.PublicKey = append([]byte(nil), p.PublicKey...)
		tc.change(&p)
		if err := p.Verify(id.Public()); courier.ErrorCode(err) != courier.EINVALID {
			t.Errorf("%s: %v, want invalid", tc.name, err)
		}
	}
}

func FuzzOpenSenderKey(f *testing.F) {
	alice, bob := NewIdentity(), NewIdentity()
	pk, _ := bob.NewPrekey(courier.KEMX25519, courier.PrekeyOneTime, 1)
	sealed, _ := alice.SealSenderKey("c", "a", "b", &pk.Public, NewSenderChain().Key())
	f.Add(sealed)
	f.Fuzz(func(t *testing.T, b []byte) {
		OpenSenderKey(b, "c", "a", "b", alice.Public(), pk.Private) // must not panic
	})
}

func FuzzDecrypt(f *testing.F) {
	c := NewSenderChain()
	k := c.Key()
	f.Add(c.Encrypt("c", "a", []byte("hi")))
	f.Fuzz(func(t *testing.T, b []byte) {
		NewReceiverChain("c", "a", k).Decrypt(b) // must not panic
	})
}
