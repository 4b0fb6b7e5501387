package client_test

import (
	"context"
	"testing"
	"time"

	"github.com/courier-chat/courier"
	"github.com/courier-chat/courier/client"
	"github.com/courier-chat/courier/client/e2e"
	"github.com/courier-chat/courier/internal/clienttest"
)

// Bob resets his phone (a new device, with a new identity, and the old
// one revoked) while Alice talks to him: Alice is told, her store keeps
// him changed until she verifies the safety number both sides now show,
// and a number from before the reset is refused.
func TestE2E_SafetyNumberWarning(t *testing.T) {
	ctx := context.Background()
	srv, alice, bob, conv := e2eDirect(t)
	alice.Send(ctx, conv.ID, []byte("hi bob"))
	bob.WaitMessages(conv.ID, "bob reads", hasText("hi bob"))
	wantTrust(t, alice, bob.Acct.UserID, e2e.TrustUnverified)
	before, err := alice.SafetyNumber(ctx, bob.Acct.UserID)
	if err != nil {
		t.Fatal(err)
	}
	if theirs, err := bob.SafetyNumber(ctx, alice.Acct.UserID); err != nil || theirs != before || len(before) != 60 {
		t.Fatalf("alice sees %q, bob %q (%v)", before, theirs, err)
	}

	// The reset: a new device of bob's with its own identity, then the
	// old one revoked.
	newBob := e2eDevice(t, bob, srv.URL())
	if err := newBob.RevokeDevice(ctx, bob.Acct.DeviceID); err != nil {
		t.Fatal(err)
	}
	clienttest.WaitEvent(alice, "bob's identity changed", func(e client.IdentityChangedEvent) bool {
		return e.UserID == bob.Acct.UserID
	})
	wantTrust(t, alice, bob.Acct.UserID, e2e.TrustChanged)

	// The number shown before the reset is not the one to verify.
	if err := alice.Verify(ctx, bob.Acct.UserID, before); courier.ErrorCode(err) != courier.ECONFLICT {
		t.Fatalf("verifying the old number: %v, want conflict", err)
	}
	wantTrust(t, alice, bob.Acct.UserID, e2e.TrustChanged)
	now, err := alice.SafetyNumber(ctx, bob.Acct.UserID)
	if err != nil || now == before {
		t.Fatalf("the number after the reset: %q (%v), before %q", now, err, before)
	}
	if theirs, err := newBob.SafetyNumber(ctx, alice.Acct.UserID); err != nil || theirs != now {
		t.Fatalf("alice sees %q, bob's new phone %q (%v)", now, theirs, err)
	}
	if err := alice.Verify(ctx, bob.Acct.UserID, now); err != nil {
		t.Fatal(err)
	}
	wantTrust(t, alice, bob.Acct.UserID, e2e.TrustVerified)

	// And they talk on: the new phone reads what alice sends now.
	alice.Send(ctx, conv.ID, []byte("welcome back"))
	newBob.WaitMessages(conv.ID, "the new phone reads", hasText("welcome back"))
	wantTrust(t, alice, bob.Acct.UserID, e2e.TrustVerified)
}

// wantTrust waits until d's store says want of the contact: the state
// follows devices.changed events, which arrive in the background.
func wantTrust(t *testing.T, d *clienttest.Device, userID string, want e2e.Trust) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, err := d.ContactTrust(context.Background(), userID)
		if err != nil {
			t.Fatal(err)
		}
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: trust in %s is %v, want %v", d.Acct.DeviceID, userID, got, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
