package e2e

import (
	"errors"
	"testing"
)

// Chains read back from storage go on where they stopped: the sender's
// next message opens with the restored receiver, a skipped key kept is
// still there, and a used one is not.
func TestChainStateRoundTrip(t *testing.T) {
	s := NewSenderChain()
	r := NewReceiverChain("conv", "dev-a", s.Key())
	first := s.Encrypt("conv", "dev-a", []byte("one"))
	second := s.Encrypt("conv", "dev-a", []byte("two"))
	if _, err := r.Decrypt(second); err != nil { // keeps the key of first
		t.Fatal(err)
	}
	sb, _ := s.MarshalBinary()
	rb, _ := r.MarshalBinary()
	s2, err := UnmarshalSenderChain(sb)
	if err != nil {
		t.Fatal(err)
	}
	r2, err := UnmarshalReceiverChain(rb)
	if err != nil || r2.ConversationID != "conv" || r2.SenderDeviceID != "dev-a" {
		t.Fatalf("receiver: %+v, %v", r2, err)
	}
	if pt, err := r2.Decrypt(s2.Encrypt("conv", "dev-a", []byte("three"))); err != nil || string(pt) != "three" {
		t.Fatalf("after restore: %q, %v", pt, err)
	}
	if pt, err := r2.Decrypt(first); err != nil || string(pt) != "one" {
		t.Fatalf("skipped key lost: %q, %v", pt, err)
	}
	if _, err := r2.Decrypt(second); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("a used key came back: %v", err)
	}
	for _, b := range [][]byte{nil, sb[:10], append([]byte{2}, sb[1:]...)} {
		if _, err := UnmarshalSenderChain(b); !errors.Is(err, ErrFormat) {
			t.Errorf("sender chain from %x: %v", b, err)
		}
	}
	if _, err := UnmarshalReceiverChain(rb[:len(rb)-1]); !errors.Is(err, ErrFormat) {
		t.Errorf("truncated receiver chain: %v", err)
	}
}

func TestDistribution(t *testing.T) {
	p := Distribution("conv-1", []byte{1, 2, 3})
	conv, sealed, err := OpenDistribution(p)
	if err != nil || conv != "conv-1" || string(sealed) != "\x01\x02\x03" {
		t.Fatalf("%q %x %v", conv, sealed, err)
	}
	for _, b := range [][]byte{nil, {1, 3}, {1, 2, 0, 0}, {1, 3, 0, 9, 'a'}} {
		if _, _, err := OpenDistribution(b); !errors.Is(err, ErrFormat) {
			t.Errorf("%x: %v", b, err)
		}
	}
}
