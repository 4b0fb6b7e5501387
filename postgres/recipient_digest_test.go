package postgres_test

import (
	"bytes"
	"context"
	"slices"
	"sync"
	"testing"

	"github.com/courier-chat/courier"
	"github.com/courier-chat/courier/client/e2e"
	"github.com/courier-chat/courier/postgres"
)

// recipients reads the conversation's recipient devices and its stored
// digest straight from the tables, the sender's device left out.
func recipients(t *testing.T, e *env, conv, sender string) (devices []string, stored, current []byte) {
	t.Helper()
	devices, stored, current, err := readRecipients(e, conv, sender)
	if err != nil {
		t.Fatal(err)
	}
	return devices, stored, current
}

// readRecipients is recipients for goroutines other than the test's.
func readRecipients(e *env, conv, sender string) (devices []string, stored, current []byte, err error) {
	err = e.db.Pool.QueryRow(context.Background(), `SELECT
		ARRAY(SELECT k.device_id FROM device_identity_keys k
			JOIN devices d ON d.id = k.device_id AND d.revoked_at IS NULL
			JOIN conversation_members m ON m.user_id = k.user_id AND m.conversation_id = $1 AND m.removed_seq IS NULL
			WHERE k.device_id <> $2 ORDER BY k.device_id COLLATE "C"),
		c.recipient_digest,
		(SELECT sha256(convert_to(COALESCE(string_agg(k.device_id || E'\n', '' ORDER BY k.device_id COLLATE "C"), ''), 'UTF8'))
			FROM device_identity_keys k
			JOIN devices d ON d.id = k.device_id AND d.revoked_at IS NULL
			JOIN conversation_members m ON m.user_id = k.user_id AND m.conversation_id = $1 AND m.removed_seq IS NULL)
		FROM conversations c WHERE c.id = $1`, conv, sender).Scan(&devices, &stored, &current)
	return devices, stored, current, err
}

// A send stores the recipient set's digest; every change of the set
// (a member's new device, a revoked one, a member added, removed or back)
// clears it, so the list that was right before is refused after, and the
// new one is taken.
func TestRecipientDigestFollowsChanges(t *testing.T) {
	e := newEnv(t, postgres.ConversationConfig{}, postgres.MessageConfig{})
	ke := &keyEnv{keys: postgres.NewKeyStore(e.db.Pool), accounts: postgres.NewAccountService(e.db.Pool)}
	ctx := context.Background()
	a, _ := ke.device(t, "", 1)
	b, _ := ke.device(t, "", 1)
	c, _ := ke.device(t, "", 1)
	g, err := e.convs.Create(ctx, a.UserID, courier.NewConversation{Kind: courier.ConversationGroup, Name: "g",
		Members: []string{b.UserID}, Encrypted: true})
	if err != nil {
		t.Fatal(err)
	}
	send := func(devices []string) error {
		_, _, err := e.msgs.Send(ctx, a, courier.SendRequest{ConversationID: g.ID, ClientID: courier.NewID(),
			Body: []byte{1}, Devices: devices})
		return err
	}
	// check sends with the list from before the change (refused), then
	// with the current one (taken, and its digest stored).
	var before []string
	check := func(change string) {
		t.Helper()
		now, _, _ := recipients(t, e, g.ID, a.ID)
		if before != nil {
			if err := send(before); courier.ErrorDevices(err) == nil {
				t.Fatalf("after %s: the old list %v got %v, want a device mismatch", change, before, err)
			}
		}
		if err := send(now); err != nil {
			t.Fatalf("after %s: the current list %v: %v", change, now, err)
		}
		_, stored, current := recipients(t, e, g.ID, a.ID)
		if stored == nil || !bytes.Equal(stored, current) {
			t.Fatalf("after %s: stored digest %x, the set's %x", change, stored, current)
		}
		before = now
	}
	check("creation")
	b2, _ := ke.device(t, b.UserID, 1)
	check("a member's new device")
	if err := ke.accounts.RevokeDevice(ctx, b.UserID, b2.ID); err != nil {
		t.Fatal(err)
	}
	check("a revoked device")
	if err := e.convs.AddMembers(ctx, a.UserID, g.ID, []string{c.UserID}); err != nil {
		t.Fatal(err)
	}
	check("a member added")
	if err := e.convs.RemoveMember(ctx, a.UserID, g.ID, c.UserID); err != nil {
		t.Fatal(err)
	}
	check("a member removed")
	if err := e.convs.AddMembers(ctx, a.UserID, g.ID, []string{c.UserID}); err != nil {
		t.Fatal(err)
	}
	check("a member back")
	a2, _ := ke.device(t, a.UserID, 1)
	check("the sender's own new device")
	if !slices.Contains(before, a2.ID) {
		t.Fatalf("the sender's other device %s is not a recipient: %v", a2.ID, before)
	}
}

// A user joining an encrypted group while one of their devices gets its
// keys, with a member sending all the while (each send may compute and
// store the digest): whatever the interleaving, a digest stored at the end
// is the set's. A stale one would let a send skip the new device for good.
func TestRecipientDigestJoinRacesNewDevice(t *testing.T) {
	e := newEnv(t, postgres.ConversationConfig{}, postgres.MessageConfig{})
	ke := &keyEnv{keys: postgres.NewKeyStore(e.db.Pool), accounts: postgres.NewAccountService(e.db.Pool)}
	ctx := context.Background()
	a, _ := ke.device(t, "", 1)
	for round := 0; round < 20; round++ {
		u, _ := ke.device(t, "", 1)
		g, err := e.convs.Create(ctx, a.UserID, courier.NewConversation{Kind: courier.ConversationGroup, Name: "g", Encrypted: true})
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		done := make(chan struct{})
		wg.Go(func() {
			if err := e.convs.AddMembers(ctx, a.UserID, g.ID, []string{u.UserID}); err != nil {
				t.Error(err)
			}
		})
		wg.Go(func() {
			// A new device of u's uploads its identity (t.Fatal is not for
			// this goroutine, so no ke.device).
			d, _, err := ke.accounts.CreateDevice(ctx, u.UserID, "tablet")
			if err == nil {
				_, _, err = ke.keys.PutKeys(ctx, d, courier.KeyUpload{IdentityKey: e2e.NewIdentity().Public()})
			}
			if err != nil {
				t.Error(err)
			}
		})
		var senders sync.WaitGroup
		for range 2 {
			senders.Go(func() {
				for {
					select {
					case <-done:
						return
					default:
					}
					devices, _, _, err := readRecipients(e, g.ID, a.ID)
					if err == nil {
						err = send(ctx, e, a, g.ID, devices)
					}
					if err != nil && courier.ErrorDevices(err) == nil {
						t.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
		close(done)
		senders.Wait()
		if _, stored, current := recipients(t, e, g.ID, a.ID); stored != nil && !bytes.Equal(stored, current) {
			t.Fatalf("round %d: a stale digest %x stayed; the set's is %x", round, stored, current)
		}
	}
}

func send(ctx context.Context, e *env, from *courier.Device, conv string, devices []string) error {
	_, _, err := e.msgs.Send(ctx, from, courier.SendRequest{ConversationID: conv, ClientID: courier.NewID(),
		Body: []byte{1}, Devices: devices})
	return err
}
