package e2e

import (
	"bytes"
	"crypto/rand"
	"errors"
	"testing"
)

// Every range of files around chunk boundaries decrypts from exactly the
// chunks CipherRange names.
func TestMediaRanges(t *testing.T) {
	for _, size := range []int64{0, 1, 15, 16, 17, 48, 50} {
		m := MediaKey{Key: make([]byte, 32), ChunkSize: 16, Size: size}
		rand.Read(m.Key)
		pt := make([]byte, size)
		rand.Read(pt)
		var ct bytes.Buffer
		if err := EncryptMedia(&m, bytes.NewReader(pt), &ct); err != nil {
			t.Fatal(err)
		}
		if int64(ct.Len()) != m.CipherSize() {
			t.Fatalf("size %d: %d ciphertext bytes, CipherSize %d", size, ct.Len(), m.CipherSize())
		}
		whole, err := DecryptMedia(&m, ct.Bytes())
		if err != nil || !bytes.Equal(whole, pt) {
			t.Fatalf("size %d: whole file: %v", size, err)
		}
		for off := int64(0); off <= size; off++ {
			for n := int64(0); off+n <= size; n++ {
				s, e := m.CipherRange(off, n)
				got, err := m.DecryptRange(off, n, ct.Bytes()[s:e])
				if err != nil || !bytes.Equal(got, pt[off:off+n]) {
					t.Fatalf("size %d range %d+%d: %v", size, off, n, err)
				}
			}
		}
	}
}

func TestMediaRefuses(t *testing.T) {
	m := MediaKey{Key: make([]byte, 32), ChunkSize: 16, Size: 40}
	pt := make([]byte, 40)
	var buf bytes.Buffer
	if err := EncryptMedia(&m, bytes.NewReader(pt), &buf); err != nil {
		t.Fatal(err)
	}
	ct := buf.Bytes()
	swapped := append(append(append([]byte(nil), ct[32:64]...), ct[:32]...), ct[64:]...)
	short := m
	short.Size = 32 // a server cutting the file after two whole chunks
	for _, tc := range []struct {
		name string
		err  error
	}{
		{"flipped byte in a range", func() error { _, err := m.DecryptRange(0, 16, flip(ct[:32], 3)); return err }()},
		{"chunks swapped", func() error { _, err := m.DecryptRange(0, 32, swapped[:64]); return err }()},
		{"truncated file", func() error { _, err := short.DecryptRange(16, 16, ct[32:64]); return err }()},
		{"whole file, flipped byte", func() error { _, err := DecryptMedia(&m, flip(ct, 70)); return err }()},
		{"whole file, wrong digest", func() error { d := m; d.Digest = make([]byte, 32); _, err := DecryptMedia(&d, ct); return err }()},
	} {
		if !errors.Is(tc.err, ErrDecrypt) {
			t.Errorf("%s: %v, want ErrDecrypt", tc.name, tc.err)
		}
	}
	if _, err := m.DecryptRange(30, 20, nil); !errors.Is(err, ErrMediaRange) {
		t.Errorf("range past the end: %v", err)
	}
}
