package e2e

import (
	"errors"
	"testing"
	"time"
)

func TestChainDelivery(t *testing.T) {
	var envs [][]byte
	// A receiver given the key at iteration 0 reads every message, in any
	// order, each exactly once.
	start := NewSenderChain()
	first := start.Key()
	for i := range 6 {
		envs = append(envs, start.Encrypt("conv", "dev-a", []byte{byte(i), 'm'}))
	}
	r := NewReceiverChain("conv", "dev-a", first)
	for _, i := range []int{0, 3, 1, 5, 2, 4} {
		pt, err := r.Decrypt(envs[i])
		if err != nil || len(pt) != 2 || pt[0] != byte(i) {
			t.Fatalf("message %d: %x, %v", i, pt, err)
		}
	}
	for i := range envs {
		if _, err := r.Decrypt(envs[i]); !errors.Is(err, ErrDecrypt) {
			t.Errorf("replay of %d: %v, want ErrDecrypt (its key is deleted)", i, err)
		}
	}
}

// Each case changes one thing a receiver binds: every one must be refused.
func TestChainRefuses(t *testing.T) {
	c := NewSenderChain()
	k := c.Key()
	env := c.Encrypt("conv", "dev-a", []byte("hello"))
	other := NewSenderChain()
	for _, tc := range []struct {
		name string
		r    *ReceiverChain
		env  []byte
		want error
	}{
		{"flipped ciphertext byte", NewReceiverChain("conv", "dev-a", k), flip(env, 30), ErrDecrypt},
		{"flipped signature byte", NewReceiverChain("conv", "dev-a", k), flip(env, len(env)-1), ErrDecrypt},
		{"flipped iteration", NewReceiverChain("conv", "dev-a", k), flip(env, 21), ErrDecrypt},
		{"other conversation", NewReceiverChain("conv2", "dev-a", k), env, ErrDecrypt},
		{"other sender device", NewReceiverChain("conv", "dev-b", k), env, ErrDecrypt},
		{"other chain", NewReceiverChain("conv", "dev-a", other.Key()), env, ErrDecrypt},
		{"truncated", NewReceiverChain("conv", "dev-a", k), env[:40], ErrFormat},
		{"version 2", NewReceiverChain("conv", "dev-a", k), append([]byte{2}, env[1:]...), ErrFormat},
	} {
		if _, err := tc.r.Decrypt(tc.env); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
}

func flip(b []byte, i int) []byte {
	c := append([]byte(nil), b...)
	c[i] ^= 1
	return c
}

// A device given the chain later (a new member) reads nothing sent before;
// a device left out of a new chain (a removed member) reads nothing after.
func TestChainMembership(t *testing.T) {
	c := NewSenderChain()
	early := c.Encrypt("conv", "dev-a", []byte("before"))
	joined := NewReceiverChain("conv", "dev-a", c.Key())
	if _, err := joined.Decrypt(early); !errors.Is(err, ErrDecrypt) {
		t.Errorf("late joiner read an earlier message: %v", err)
	}
	if _, err := joined.Decrypt(c.Encrypt("conv", "dev-a", []byte("after"))); err != nil {
		t.Errorf("late joiner: %v", err)
	}
	removed := NewReceiverChain("conv", "dev-a", c.Key())
	next := NewSenderChain() // the sender rotates when a member leaves
	if _, err := removed.Decrypt(next.Encrypt("conv", "dev-a", []byte("secret"))); !errors.Is(err, ErrDecrypt) {
		t.Errorf("removed device read the new chain: %v", err)
	}
}

func TestChainSkipLimits(t *testing.T) {
	c := NewSenderChain()
	r := NewReceiverChain("conv", "dev-a", c.Key())
	for range MaxSkip + 1 {
		c.next()
	}
	if _, err := r.Decrypt(c.Encrypt("conv", "dev-a", []byte("x"))); !errors.Is(err, ErrTooFarAhead) {
		t.Errorf("message %d ahead: %v, want ErrTooFarAhead", MaxSkip+1, err)
	}
	// Skipped keys are kept up to the cap, oldest dropped.
	c = NewSenderChain()
	r = NewReceiverChain("conv", "dev-a", c.Key())
	first := c.Encrypt("conv", "dev-a", []byte("first"))
	for range MaxSkippedKeys - 1 {
		c.next()
	}
	// Iteration MaxSkippedKeys: keys 0..MaxSkippedKeys-1 are kept (the cap);
	// then one more skipped key drops key 0.
	for range 2 {
		if _, err := r.Decrypt(c.Encrypt("conv", "dev-a", []byte("later"))); err != nil {
			t.Fatal(err)
		}
		c.next()
	}
	if len(r.skipped) != MaxSkippedKeys {
		t.Errorf("%d skipped keys kept, want %d", len(r.skipped), MaxSkippedKeys)
	}
	if _, err := r.Decrypt(first); !errors.Is(err, ErrDecrypt) {
		t.Errorf("the oldest skipped key should be dropped: %v", err)
	}
}

func TestNeedsRotation(t *testing.T) {
	now := time.Now()
	c := NewSenderChain()
	c.Recipients = []string{"a", "b"}
	for _, tc := range []struct {
		name string
		at   time.Time
		devs []string
		want bool
	}{
		{"same devices, other order", now, []string{"b", "a"}, false},
		{"device added", now, []string{"a", "b", "c"}, true},
		{"device removed", now, []string{"a"}, true},
		{"device replaced", now, []string{"a", "c"}, true},
		{"too old", now.Add(MaxChainAge + time.Minute), []string{"a", "b"}, true},
	} {
		if got := c.NeedsRotation(tc.at, tc.devs); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
	c.key.Iteration = MaxChainMessages
	if !c.NeedsRotation(now, []string{"a", "b"}) {
		t.Error("a chain that sent MaxChainMessages should rotate")
	}
}
