package postgres_test

import (
	"context"
	"slices"
	"testing"

	"github.com/courier-chat/courier"
	"github.com/courier-chat/courier/postgres"
)

// An encrypted send must name exactly the live devices with identity keys
// of the current members, the sender's own other devices included and the
// sending device left out; the store says which are missing and extra.
func TestEncryptedSendDevices(t *testing.T) {
	for _, mc := range []postgres.MessageConfig{{}, {MaxBatch: 1}} {
		e := newEnv(t, postgres.ConversationConfig{}, mc)
		ke := &keyEnv{keys: postgres.NewKeyStore(e.db.Pool), accounts: postgres.NewAccountService(e.db.Pool)}
		ctx := context.Background()
		a1, _ := ke.device(t, "", 1)
		a2, _ := ke.device(t, a1.UserID, 1)
		b1, _ := ke.device(t, "", 1)
		carol := e.users(t, 1)[0] // no keys: a member, but no recipient
		g, err := e.convs.Create(ctx, a1.UserID, courier.NewConversation{Kind: courier.ConversationGroup, Name: "g",
			Members: []string{b1.UserID, carol.UserID}, Encrypted: true})
		if err != nil || !g.Encrypted {
			t.Fatalf("create: %+v, %v", g, err)
		}
		send := func(clientID string, devices ...string) (*courier.Message, bool, error) {
			return e.msgs.Send(ctx, a1, courier.SendRequest{ConversationID: g.ID, ClientID: clientID,
				Body: []byte{1, 2, 3}, Devices: devices})
		}
		want := slices.Sorted(slices.Values([]string{a2.ID, b1.ID}))
		stale := courier.NewID()
		for _, tc := range []struct {
			name           string
			devices        []string
			missing, extra []string
		}{
			{"none named", nil, want, nil},
			{"one missing", []string{b1.ID}, []string{a2.ID}, nil},
			{"an extra one", append([]string{stale}, want...), nil, []string{stale}},
			{"the sending device itself", append([]string{a1.ID}, want...), nil, []string{a1.ID}},
		} {
			_, _, err := send(courier.NewID(), tc.devices...)
			wantCode(t, err, courier.ECONFLICT)
			d := courier.ErrorDevices(err)
			if d == nil || !slices.Equal(d.Missing, tc.missing) || !slices.Equal(d.Extra, tc.extra) {
				t.Fatalf("%s: mismatch %+v, want missing %v extra %v", tc.name, d, tc.missing, tc.extra)
			}
		}
		// The right set in any order, repeats and all, is taken; a resend
		// is answered with the original whatever it names.
		m, created, err := send("c1", b1.ID, a2.ID, b1.ID)
		if err != nil || !created || m.Seq != 1 {
			t.Fatalf("send: %+v %v %v", m, created, err)
		}
		if again, created, err := send("c1"); err != nil || created || again.Seq != 1 {
			t.Fatalf("resend: %+v %v %v", again, created, err)
		}
		// A revoked device is a recipient no more.
		if err := ke.accounts.RevokeDevice(ctx, a1.UserID, a2.ID); err != nil {
			t.Fatal(err)
		}
		_, _, err = send(courier.NewID(), want...)
		if d := courier.ErrorDevices(err); d == nil || !slices.Equal(d.Extra, []string{a2.ID}) || d.Missing != nil {
			t.Fatalf("after revoking: %v, want %s extra", err, a2.ID)
		}
		// A removed member's devices neither.
		if err := e.convs.RemoveMember(ctx, a1.UserID, g.ID, b1.UserID); err != nil {
			t.Fatal(err)
		}
		if _, _, err := send(courier.NewID()); err != nil {
			t.Fatalf("alone with a keyless member: %v", err)
		}
		// Plain conversations take no devices; non-members learn nothing.
		plain := e.group(t, a1, b1)
		_, _, err = e.msgs.Send(ctx, a1, courier.SendRequest{ConversationID: plain.ID, ClientID: courier.NewID(),
			Body: []byte("x"), Devices: []string{b1.ID}})
		wantCode(t, err, courier.EINVALID)
		_, _, err = e.msgs.Send(ctx, carol, courier.SendRequest{ConversationID: plain.ID, ClientID: courier.NewID(),
			Body: []byte("x"), Devices: []string{b1.ID}})
		wantCode(t, err, courier.ENOTFOUND)
	}
}

// The encrypted direct conversation of a pair is another one than the
// plain one, created once.
func TestEncryptedDirect(t *testing.T) {
	e := newEnv(t, postgres.ConversationConfig{}, postgres.MessageConfig{})
	ctx := context.Background()
	u := e.users(t, 2)
	plain, err := e.convs.CreateDirect(ctx, u[0].UserID, u[1].UserID)
	if err != nil {
		t.Fatal(err)
	}
	nc := courier.NewConversation{Kind: courier.ConversationDirect, UserID: u[1].UserID, Encrypted: true}
	enc, err := e.convs.Create(ctx, u[0].UserID, nc)
	if err != nil || !enc.Encrypted || enc.ID == plain.ID || plain.Encrypted {
		t.Fatalf("encrypted %+v, plain %+v, %v", enc, plain, err)
	}
	nc.UserID = u[0].UserID
	if again, err := e.convs.Create(ctx, u[1].UserID, nc); err != nil || again.ID != enc.ID {
		t.Fatalf("the other side got %+v, %v; want %s", again, err, enc.ID)
	}
	views, _, err := e.convs.Conversations(ctx, u[1].UserID, "", 10)
	if err != nil || len(views) != 2 {
		t.Fatalf("list: %d, %v", len(views), err)
	}
	for _, v := range views {
		if v.Encrypted != (v.ID == enc.ID) {
			t.Errorf("list: %s encrypted=%v", v.ID, v.Encrypted)
		}
	}
}

// An encrypted conversation's push carries the message's envelope (the
// body, whole) and no excerpt; an envelope too big for a push is left for
// the extension to fetch.
func TestPushContentEncrypted(t *testing.T) {
	e := newEnv(t, postgres.ConversationConfig{}, postgres.MessageConfig{})
	ctx := context.Background()
	store := postgres.NewPushStore(e.db.Pool)
	u := e.users(t, 2)
	me, bob := u[0], u[1]
	if err := store.RegisterPush(ctx, apnsReg(me, "tok-me")); err != nil {
		t.Fatal(err)
	}
	g, err := e.convs.Create(ctx, bob.UserID, courier.NewConversation{Kind: courier.ConversationGroup, Name: "secret",
		Members: []string{me.UserID}, Encrypted: true})
	if err != nil {
		t.Fatal(err)
	}
	// Neither user has keys, so the recipient set is empty.
	for _, size := range []int{courier.MaxPushEnvelope, courier.MaxPushEnvelope + 1} {
		env := make([]byte, size)
		for i := range env {
			env[i] = byte(i)
		}
		m, _, err := e.msgs.Send(ctx, bob, courier.SendRequest{ConversationID: g.ID, ClientID: courier.NewID(), Body: env})
		if err != nil {
			t.Fatal(err)
		}
		c, err := store.PushContent(ctx, me.ID, g.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !c.Encrypted || c.Message == nil || c.Message.Seq != m.Seq || c.Message.Body != nil {
			t.Fatalf("%d bytes: content %+v; want encrypted, seq %d, no body", size, c, m.Seq)
		}
		fits := size <= courier.MaxPushEnvelope
		if fits && !slices.Equal(c.Envelope, env) || !fits && c.Envelope != nil {
			t.Fatalf("%d bytes: envelope of %d bytes", size, len(c.Envelope))
		}
	}
}

// An encrypted conversation takes e2e blobs only: a plain one would be
// read and processed by the server.
func TestEncryptedAttachments(t *testing.T) {
	e := newEnv(t, postgres.ConversationConfig{}, postgres.MessageConfig{})
	ctx := context.Background()
	u := e.users(t, 2)
	g, err := e.convs.Create(ctx, u[0].UserID, courier.NewConversation{Kind: courier.ConversationGroup, Name: "g",
		Members: []string{u[1].UserID}, Encrypted: true})
	if err != nil {
		t.Fatal(err)
	}
	sealed := blob(t, e, u[0])
	plain := &courier.Blob{ID: courier.NewID(), OwnerID: u[0].UserID, Mode: courier.BlobPlain, State: courier.BlobReady,
		Size: 1, StorageKey: "blobs/y"}
	if _, err := e.blobs.CreateBlob(ctx, plain); err != nil {
		t.Fatal(err)
	}
	_, _, err = e.msgs.Send(ctx, u[0], courier.SendRequest{ConversationID: g.ID, ClientID: "c1", Body: []byte{1},
		Attachments: []string{sealed, plain.ID}})
	wantCode(t, err, courier.EINVALID)
	if _, _, err := e.msgs.Send(ctx, u[0], courier.SendRequest{ConversationID: g.ID, ClientID: "c2", Body: []byte{1},
		Attachments: []string{sealed}}); err != nil {
		t.Fatal(err)
	}
	// Plain conversations take both.
	e.send(t, u[0], e.group(t, u[0], u[1]).ID, sealed, plain.ID)
}
