package postgres_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/courier-chat/courier"
	"github.com/courier-chat/courier/postgres"
)

func apnsReg(d *courier.Device, token string) *courier.PushRegistration {
	return &courier.PushRegistration{DeviceID: d.ID, UserID: d.UserID, Service: courier.PushAPNs, Token: token,
		Topic: "chat.courier.app", Environment: courier.PushSandbox}
}

func TestPushRegistrations(t *testing.T) {
	e := newEnv(t, postgres.ConversationConfig{}, postgres.MessageConfig{})
	ctx := context.Background()
	store := postgres.NewPushStore(e.db.Pool)
	u := e.users(t, 2)
	a, b := u[0], u[1]

	_, err := store.PushRegistration(ctx, a.ID)
	wantCode(t, err, courier.ENOTFOUND)
	if err := store.RegisterPush(ctx, apnsReg(a, "tok-a1")); err != nil {
		t.Fatal(err)
	}
	// Registering again replaces.
	if err := store.RegisterPush(ctx, apnsReg(a, "tok-a2")); err != nil {
		t.Fatal(err)
	}
	got, err := store.PushRegistration(ctx, a.ID)
	if err != nil || got.Token != "tok-a2" || got.UserID != a.UserID || got.Topic != "chat.courier.app" {
		t.Fatalf("after replace: %+v, %v", got, err)
	}
	// Invalid registrations are refused before SQL.
	bad := apnsReg(a, "tok")
	bad.Topic = ""
	wantCode(t, store.RegisterPush(ctx, bad), courier.EINVALID)
	// Another user's device cannot be registered in one's name.
	wrong := apnsReg(a, "tok-x")
	wrong.UserID = b.UserID
	wantCode(t, store.RegisterPush(ctx, wrong), courier.ENOTFOUND)

	// The token moves: b registering a's token takes it from a.
	if err := store.RegisterPush(ctx, apnsReg(b, "tok-a2")); err != nil {
		t.Fatal(err)
	}
	_, err = store.PushRegistration(ctx, a.ID)
	wantCode(t, err, courier.ENOTFOUND)
	d, err := store.DeviceForPushToken(ctx, "tok-a2")
	if err != nil || d.ID != b.ID {
		t.Fatalf("device for token: %+v, %v; want b", d, err)
	}
	_, err = store.DeviceForPushToken(ctx, "nobody's")
	wantCode(t, err, courier.EUNAUTHORIZED)

	// A provider's "token gone" removes only that token, not a newer one.
	if removed, err := store.RemovePushToken(ctx, b.ID, "an older token"); err != nil || removed {
		t.Fatalf("removed a registration for a token it no longer holds: %v %v", removed, err)
	}
	if removed, err := store.RemovePushToken(ctx, b.ID, "tok-a2"); err != nil || !removed {
		t.Fatalf("remove: %v %v", removed, err)
	}
	wantCode(t, store.UnregisterPush(ctx, b.ID), courier.ENOTFOUND)

	// Revoking a device forgets its registration.
	if err := store.RegisterPush(ctx, apnsReg(a, "tok-a3")); err != nil {
		t.Fatal(err)
	}
	if err := postgres.NewAccountService(e.db.Pool).RevokeDevice(ctx, a.UserID, a.ID); err != nil {
		t.Fatal(err)
	}
	_, err = store.PushRegistration(ctx, a.ID)
	wantCode(t, err, courier.ENOTFOUND)
	_, err = store.DeviceForPushToken(ctx, "tok-a3")
	wantCode(t, err, courier.EUNAUTHORIZED)
}

func TestPushContent(t *testing.T) {
	e := newEnv(t, postgres.ConversationConfig{}, postgres.MessageConfig{})
	ctx := context.Background()
	store := postgres.NewPushStore(e.db.Pool)
	u := e.users(t, 3)
	me, ada, bob := u[0], u[1], u[2]
	if err := store.RegisterPush(ctx, apnsReg(me, "tok-me")); err != nil {
		t.Fatal(err)
	}
	g := e.group(t, ada, me, bob)
	other := e.group(t, bob, me)
	e.send(t, bob, other.ID)
	e.send(t, ada, g.ID)
	long := strings.Repeat("é", 2000) // 4000 bytes; only the start is read
	m, _, err := e.msgs.Send(ctx, bob, courier.SendRequest{ConversationID: g.ID, ClientID: "c1", Body: []byte(long)})
	if err != nil {
		t.Fatal(err)
	}
	e.send(t, me, other.ID) // my own message: read, never pushed

	c, err := store.PushContent(ctx, me.ID, g.ID)
	if err != nil {
		t.Fatal(err)
	}
	if c.Message == nil || c.Message.Seq != m.Seq || c.Message.SenderID != bob.UserID || c.SenderName != "user" {
		t.Fatalf("newest message %+v (sender %q), want seq %d from bob", c.Message, c.SenderName, m.Seq)
	}
	if len(c.Message.Body) > courier.MaxPushTextExcerpt+4 {
		t.Fatalf("read %d bytes of the body", len(c.Message.Body))
	}
	// Two unread in the group; in the other conversation my reply moved
	// my read watermark past bob's message.
	if c.Unread != 2 || c.Badge != 2 || c.Muted || c.ConversationKind != courier.ConversationGroup || c.ConversationName != "group" {
		t.Fatalf("content %+v: want unread 2, badge 2, not muted", c)
	}

	// Muted: still content, flagged silent; unmuting clears it.
	if err := store.MuteConversation(ctx, me.UserID, g.ID, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if c, _ := store.PushContent(ctx, me.ID, g.ID); !c.Muted {
		t.Fatal("muted conversation not reported muted")
	}
	if err := store.MuteConversation(ctx, me.UserID, g.ID, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if c, _ := store.PushContent(ctx, me.ID, g.ID); c.Muted {
		t.Fatal("unmuted conversation still muted")
	}
	// An expired mute is no mute.
	store.MuteConversation(ctx, me.UserID, g.ID, time.Now().Add(-time.Second))
	if c, _ := store.PushContent(ctx, me.ID, g.ID); c.Muted {
		t.Fatal("an expired mute still mutes")
	}
	wantCode(t, store.MuteConversation(ctx, me.UserID, courier.NewID(), time.Now()), courier.ENOTFOUND)

	// Read: nothing to push.
	if _, _, err := e.msgs.UpdateReceipt(ctx, me.UserID, g.ID, courier.ReceiptRead, m.Seq); err != nil {
		t.Fatal(err)
	}
	if c, err := store.PushContent(ctx, me.ID, g.ID); err != nil || c.Message != nil || c.Badge != 0 {
		t.Fatalf("after reading: %+v, %v; want no message, badge 0", c, err)
	}
	// A device without a registration, or a non-member, has nothing.
	_, err = store.PushContent(ctx, ada.ID, g.ID)
	wantCode(t, err, courier.ENOTFOUND)
	if c, err := store.PushContent(ctx, me.ID, courier.NewID()); err != nil || c.Message != nil {
		t.Fatalf("not a member: %+v, %v; want nothing to push", c, err)
	}
}
