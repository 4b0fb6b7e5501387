package e2e

import (
	"testing"
)

func TestSafetyNumber(t *testing.T) {
	a1, a2, b1 := NewIdentity().Public(), NewIdentity().Public(), NewIdentity().Public()
	n := SafetyNumber("alice", [][]byte{a1, a2}, "bob", [][]byte{b1})
	if len(n) != 60 {
		t.Fatalf("%q is not 60 digits", n)
	}
	if got := SafetyNumber("bob", [][]byte{b1}, "alice", [][]byte{a2, a1}); got != n {
		t.Errorf("the two sides see %s and %s", n, got)
	}
	if got := SafetyNumber("alice", [][]byte{a1}, "bob", [][]byte{b1}); got == n {
		t.Error("a device removed but the number is the same")
	}
	if got := SafetyNumber("alice", [][]byte{a1, a2}, "bob", [][]byte{NewIdentity().Public()}); got == n {
		t.Error("a key replaced but the number is the same")
	}
}

func TestContactTrust(t *testing.T) {
	k1, k2 := NewIdentity().Public(), NewIdentity().Public()
	c := &Contact{UserID: "bob"}
	steps := []struct {
		name string
		do   func() Trust
		want Trust
	}{
		{"first use", func() Trust { return c.Check([][]byte{k1}) }, TrustUnverified},
		{"verified", func() Trust { c.Accept([][]byte{k1}, true); return c.Check([][]byte{k1}) }, TrustVerified},
		{"device added", func() Trust { return c.Check([][]byte{k1, k2}) }, TrustChanged},
		{"still changed", func() Trust { return c.Check([][]byte{k2, k1}) }, TrustChanged},
		{"accepted, not verified", func() Trust { c.Accept([][]byte{k1, k2}, false); return c.Check([][]byte{k2, k1}) }, TrustUnverified},
	}
	for _, s := range steps {
		if got := s.do(); got != s.want {
			t.Errorf("%s: %v, want %v", s.name, got, s.want)
		}
	}
}
