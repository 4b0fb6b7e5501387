package postgres_test

import (
	"context"
	"testing"

	"github.com/courier-chat/courier"
	"github.com/courier-chat/courier/postgres"
)

func TestMailbox(t *testing.T) {
	e := newEnv(t, postgres.ConversationConfig{}, postgres.MessageConfig{})
	ctx := context.Background()
	box := postgres.NewMailboxStore(e.db.Pool)
	accounts := postgres.NewAccountService(e.db.Pool)
	u := e.users(t, 3) // alice, bob (shares a chat with alice), stranger
	alice, bob, stranger := u[0], u[1], u[2]
	if _, err := e.convs.CreateDirect(ctx, alice.UserID, bob.UserID); err != nil {
		t.Fatal(err)
	}
	tablet, _, _ := accounts.CreateDevice(ctx, alice.UserID, "tablet")
	old, _, _ := accounts.CreateDevice(ctx, bob.UserID, "old")
	if err := accounts.RevokeDevice(ctx, bob.UserID, old.ID); err != nil {
		t.Fatal(err)
	}
	put := func(to string, n int) []courier.MailboxPut {
		return []courier.MailboxPut{{DeviceID: to, Payload: make([]byte, n)}}
	}
	for _, tc := range []struct {
		name  string
		items []courier.MailboxPut
		code  string
	}{
		{"own other device", put(tablet.ID, 10), ""},
		{"a peer's device", put(bob.ID, 1292), ""},
		{"a stranger's device", put(stranger.ID, 10), courier.ENOTFOUND},
		{"a revoked device", put(old.ID, 10), courier.ENOTFOUND},
		{"no such device", put(courier.NewID(), 10), courier.ENOTFOUND},
		{"payload too large", put(bob.ID, courier.MaxMailboxPayload+1), courier.ETOOLARGE},
		{"empty payload", put(bob.ID, 0), courier.EINVALID},
		{"too many at once", make([]courier.MailboxPut, courier.MaxMailboxBatch+1), courier.EINVALID},
	} {
		_, err := box.PutMailbox(ctx, alice, tc.items)
		if got := courier.ErrorCode(err); got != tc.code {
			t.Errorf("%s: code %q, want %q (%v)", tc.name, got, tc.code, err)
		}
	}
	got, err := box.Mailbox(ctx, bob.ID, 0, 10)
	if err != nil || len(got) != 1 || got[0].SenderDeviceID != alice.ID || len(got[0].Payload) != 1292 {
		t.Fatalf("bob's mailbox: %+v, %v", got, err)
	}
	// Acknowledging another device's item deletes nothing; one's own does.
	if n, err := box.AckMailbox(ctx, tablet.ID, []int64{got[0].ID}); err != nil || n != 0 {
		t.Errorf("tablet acked bob's item: %d, %v", n, err)
	}
	if n, err := box.AckMailbox(ctx, bob.ID, []int64{got[0].ID, got[0].ID}); err != nil || n != 1 {
		t.Errorf("bob's ack deleted %d, %v; want 1", n, err)
	}
	if got, _ := box.Mailbox(ctx, bob.ID, 0, 10); len(got) != 0 {
		t.Errorf("acknowledged item still listed: %+v", got)
	}
	// Expired items are not listed.
	if _, err := e.db.Pool.Exec(ctx, `UPDATE mailbox SET expires_at = now() - interval '1 second' WHERE device_id = $1`, tablet.ID); err != nil {
		t.Fatal(err)
	}
	if got, _ := box.Mailbox(ctx, tablet.ID, 0, 10); len(got) != 0 {
		t.Errorf("expired item listed: %+v", got)
	}
}

func TestMailboxPendingCap(t *testing.T) {
	e := newEnv(t, postgres.ConversationConfig{}, postgres.MessageConfig{})
	ctx := context.Background()
	box := postgres.NewMailboxStore(e.db.Pool)
	u := e.users(t, 2)
	if _, err := e.convs.CreateDirect(ctx, u[0].UserID, u[1].UserID); err != nil {
		t.Fatal(err)
	}
	batch := make([]courier.MailboxPut, courier.MaxMailboxBatch)
	for i := range batch {
		batch[i] = courier.MailboxPut{DeviceID: u[1].ID, Payload: []byte{1}}
	}
	for range courier.MaxMailboxPending / courier.MaxMailboxBatch {
		if _, err := box.PutMailbox(ctx, u[0], batch); err != nil {
			t.Fatal(err)
		}
	}
	_, err := box.PutMailbox(ctx, u[0], batch[:1])
	wantCode(t, err, courier.ETOOLARGE)
}
