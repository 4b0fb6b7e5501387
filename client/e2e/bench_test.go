package e2e

import (
	"bytes"
	"io"
	"testing"

	"github.com/courier-chat/courier"
)

// The client's encryption costs, per message, per recipient device when
// a chain starts, and per MiB of media:
//
//	go test ./client/e2e -run '^$' -bench .
func BenchmarkEncryptMessage(b *testing.B) {
	c := NewSenderChain()
	pt := bytes.Repeat([]byte("x"), 200)
	for b.Loop() {
		c.Encrypt("conversation", "device", pt)
	}
}

func BenchmarkDecryptMessage(b *testing.B) {
	c := NewSenderChain()
	r := NewReceiverChain("conversation", "device", c.Key())
	envs := make([][]byte, b.N)
	for i := range envs {
		envs[i] = c.Encrypt("conversation", "device", bytes.Repeat([]byte("x"), 200))
	}
	b.ResetTimer()
	for i := range b.N {
		if _, err := r.Decrypt(envs[i]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSealSenderKey is the per-device cost of starting a chain.
func BenchmarkSealSenderKey(b *testing.B) {
	for _, kem := range courier.KEMs {
		b.Run(kem.String(), func(b *testing.B) {
			alice, bob := NewIdentity(), NewIdentity()
			pk, err := bob.NewPrekey(kem, courier.PrekeyOneTime, 1)
			if err != nil {
				b.Fatal(err)
			}
			k := NewSenderChain().Key()
			for b.Loop() {
				if _, err := alice.SealSenderKey("conversation", "dev-a", "dev-b", &pk.Public, k); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkEncryptMedia reports MB/s of file encryption in 64 KiB chunks.
func BenchmarkEncryptMedia(b *testing.B) {
	data := bytes.Repeat([]byte{7}, 4<<20)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		k := NewMediaKey()
		k.Size = int64(len(data))
		if err := EncryptMedia(&k, bytes.NewReader(data), io.Discard); err != nil {
			b.Fatal(err)
		}
	}
}
