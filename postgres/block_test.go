package postgres_test

import (
	"context"
	"testing"

	"github.com/courier-chat/courier"
	"github.com/courier-chat/courier/postgres"
)

func TestBlocks(t *testing.T) {
	e := newEnv(t, postgres.ConversationConfig{}, postgres.MessageConfig{})
	ctx := context.Background()
	blocks := postgres.NewBlockStore(e.db.Pool)
	u := e.users(t, 3)
	blocker, blocked, other := u[0], u[1], u[2]
	direct, _ := e.convs.CreateDirect(ctx, blocker.UserID, blocked.UserID)
	g := e.group(t, blocked, blocker)
	e.send(t, blocked, direct.ID)

	if err := blocks.Block(ctx, blocker.UserID, blocked.UserID); err != nil {
		t.Fatal(err)
	}
	wantCode(t, blocks.Block(ctx, blocker.UserID, blocked.UserID), "") // idempotent
	var list []courier.Block
	var err error
	wantCode(t, blocks.Block(ctx, blocker.UserID, blocker.UserID), courier.EINVALID)
	wantCode(t, blocks.Block(ctx, blocker.UserID, "nobody"), courier.ENOTFOUND)
	list, err = blocks.Blocks(ctx, blocker.UserID)
	if err != nil || len(list) != 1 || list[0].UserID != blocked.UserID {
		t.Fatalf("blocks: %v %+v", err, list)
	}

	send := func(from *courier.Device, conv string, atts ...string) error {
		_, _, err := e.msgs.Send(ctx, from, courier.SendRequest{ConversationID: conv, ClientID: courier.NewID(),
			Body: []byte("hi"), Attachments: atts})
		return err
	}
	// Direct: refused both ways, with and without attachments (the
	// precheck path and the batched insert).
	wantCode(t, send(blocked, direct.ID), courier.EBLOCKED)
	wantCode(t, send(blocker, direct.ID), courier.EBLOCKED)
	wantCode(t, send(blocked, direct.ID, blob(t, e, blocked)), courier.EBLOCKED)
	// A direct conversation started after the block is blocked too.
	later, err := e.convs.Create(ctx, blocked.UserID, courier.NewConversation{Kind: courier.ConversationDirect,
		UserID: blocker.UserID, Encrypted: true})
	if err != nil {
		t.Fatal(err)
	}
	wantCode(t, send(blocker, later.ID), courier.EBLOCKED)
	// A group they share goes on as before.
	wantCode(t, send(blocked, g.ID), "")
	wantCode(t, send(blocker, g.ID), "")
	// The blocked user cannot add the blocker to a group, old or new; the
	// blocker can add them.
	g2 := e.group(t, blocked, other)
	wantCode(t, e.convs.AddMembers(ctx, blocked.UserID, g2.ID, []string{blocker.UserID}), courier.EBLOCKED)
	_, err = e.convs.CreateGroup(ctx, blocked.UserID, "g3", []string{other.UserID, blocker.UserID})
	wantCode(t, err, courier.EBLOCKED)
	g4 := e.group(t, blocker, other)
	wantCode(t, e.convs.AddMembers(ctx, blocker.UserID, g4.ID, []string{blocked.UserID}), "")

	among, err := blocks.BlockedAmong(ctx, blocker.UserID, []string{blocked.UserID, other.UserID})
	if err != nil || len(among) != 1 || among[0] != blocked.UserID {
		t.Fatalf("blocked among: %v %v", err, among)
	}

	if err := blocks.Unblock(ctx, blocker.UserID, blocked.UserID); err != nil {
		t.Fatal(err)
	}
	wantCode(t, send(blocked, direct.ID), "")
	wantCode(t, send(blocker, later.ID), "")
	wantCode(t, e.convs.AddMembers(ctx, blocked.UserID, g2.ID, []string{blocker.UserID}), "")
	if list, _ := blocks.Blocks(ctx, blocker.UserID); len(list) != 0 {
		t.Fatalf("blocks after unblock: %+v", list)
	}
}

func TestForwardCount(t *testing.T) {
	e := newEnv(t, postgres.ConversationConfig{}, postgres.MessageConfig{})
	ctx := context.Background()
	u := e.users(t, 3)
	photo := blob(t, e, u[0])
	first, _ := e.convs.CreateDirect(ctx, u[0].UserID, u[1].UserID)
	orig := e.send(t, u[0], first.ID, photo)
	if orig.Forwarded || orig.ForwardCount != 0 {
		t.Fatalf("a plain send is marked forwarded: %+v", orig)
	}
	// u[1] may read the photo now and forwards it on, again and again.
	second, _ := e.convs.CreateDirect(ctx, u[1].UserID, u[2].UserID)
	forward := func(from *courier.Device, conv string, atts ...string) *courier.Message {
		t.Helper()
		m, _, err := e.msgs.Send(ctx, from, courier.SendRequest{ConversationID: conv, ClientID: courier.NewID(),
			Body: []byte("fwd"), Attachments: atts, Forwarded: true})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	for i := 1; i <= courier.ForwardedManyTimes; i++ {
		m := forward(u[1], second.ID, photo)
		if !m.Forwarded || m.ForwardCount != i {
			t.Fatalf("forward %d: %+v", i, m)
		}
	}
	stored := e.history(t, u[2], second.ID)
	if last := stored[int64(courier.ForwardedManyTimes)]; !last.Forwarded || last.ForwardCount != courier.ForwardedManyTimes {
		t.Fatalf("history: %+v", last)
	}
	if m := e.history(t, u[0], first.ID)[orig.Seq]; m.Forwarded {
		t.Fatalf("the original became forwarded: %+v", m)
	}
	// Text alone counts 1; a forward may not be a change.
	if m := forward(u[1], second.ID); m.ForwardCount != 1 {
		t.Fatalf("text forward: %+v", m)
	}
	_, _, err := e.msgs.Send(ctx, u[1], courier.SendRequest{ConversationID: second.ID, ClientID: courier.NewID(),
		Kind: courier.KindReaction, Target: 1, Body: []byte("👍"), Forwarded: true})
	wantCode(t, err, courier.EINVALID)
	// A blob the forwarder may not read is refused as before.
	_, _, err = e.msgs.Send(ctx, u[2], courier.SendRequest{ConversationID: second.ID, ClientID: courier.NewID(),
		Body: []byte("x"), Attachments: []string{blob(t, e, u[0])}, Forwarded: true})
	wantCode(t, err, courier.EFORBIDDEN)
}
