package postgres_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/courier-chat/courier"
	"github.com/courier-chat/courier/postgres"
)

// change sends a reaction, edit or delete of target from d.
func (e *env) change(d *courier.Device, conv string, kind courier.MessageKind, target int64, body string) (*courier.Message, error) {
	m, _, err := e.msgs.Send(context.Background(), d, courier.SendRequest{ConversationID: conv, ClientID: courier.NewID(),
		Kind: kind, Target: target, Body: []byte(body)})
	return m, err
}

// history reads conversation conv as d's user sees it, by seq.
func (e *env) history(t *testing.T, d *courier.Device, conv string) map[int64]*courier.Message {
	t.Helper()
	msgs, err := e.msgs.Messages(context.Background(), d.UserID, conv, 0, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	out := map[int64]*courier.Message{}
	for _, m := range msgs {
		out[m.Seq] = m
	}
	return out
}

func TestReplies(t *testing.T) {
	e := newEnv(t, postgres.ConversationConfig{}, postgres.MessageConfig{})
	ctx := context.Background()
	u := e.users(t, 2)
	conv, _ := e.convs.CreateDirect(ctx, u[0].UserID, u[1].UserID)
	first := e.send(t, u[0], conv.ID)
	reply, _, err := e.msgs.Send(ctx, u[1], courier.SendRequest{ConversationID: conv.ID, ClientID: "r1", Body: []byte("yes"), ReplyTo: first.Seq})
	if err != nil || reply.ReplyTo != first.Seq {
		t.Fatalf("reply: %v %+v", err, reply)
	}
	if got := e.history(t, u[0], conv.ID)[reply.Seq]; got.ReplyTo != first.Seq {
		t.Fatalf("stored reply quotes %d, want %d", got.ReplyTo, first.Seq)
	}
	_, _, err = e.msgs.Send(ctx, u[1], courier.SendRequest{ConversationID: conv.ID, ClientID: "r2", Body: []byte("?"), ReplyTo: 99})
	wantCode(t, err, courier.EINVALID)
}

func TestReactions(t *testing.T) {
	e := newEnv(t, postgres.ConversationConfig{}, postgres.MessageConfig{})
	u := e.users(t, 3)
	g := e.group(t, u[0], u[1], u[2])
	m := e.send(t, u[0], g.ID)

	r1, err := e.change(u[1], g.ID, courier.KindReaction, m.Seq, "👍")
	if err != nil || r1.Seq != m.Seq+1 || r1.Kind != courier.KindReaction || r1.Target != m.Seq {
		t.Fatalf("reaction: %v %+v", err, r1)
	}
	if _, err := e.change(u[2], g.ID, courier.KindReaction, m.Seq, "👍"); err != nil {
		t.Fatal(err)
	}
	// One reaction per user: a second replaces the first.
	if _, err := e.change(u[1], g.ID, courier.KindReaction, m.Seq, "❤️"); err != nil {
		t.Fatal(err)
	}
	got := e.history(t, u[0], g.ID)
	if r := got[m.Seq].Reactions; len(r) != 2 || r["👍"] != 1 || r["❤️"] != 1 {
		t.Fatalf("summary %v, want one 👍 and one ❤️", r)
	}
	if got[r1.Seq].Kind != courier.KindReaction || string(got[r1.Seq].Body) != "👍" {
		t.Fatalf("the log keeps each reaction as an entry: %+v", got[r1.Seq])
	}
	// An empty body takes the user's reaction back.
	if _, err := e.change(u[2], g.ID, courier.KindReaction, m.Seq, ""); err != nil {
		t.Fatal(err)
	}
	if r := e.history(t, u[0], g.ID)[m.Seq].Reactions; len(r) != 1 || r["❤️"] != 1 {
		t.Fatalf("after removal %v, want one ❤️", r)
	}

	for _, c := range []struct {
		name, body string
		target     int64
		code       string
	}{
		{"not an emoji", "a\x00b", m.Seq, courier.EINVALID},
		{"too long", strings.Repeat("👍", 20), m.Seq, courier.EINVALID},
		{"a reaction to a reaction", "👍", r1.Seq, courier.EINVALID},
		{"no such message", "👍", 999, courier.ENOTFOUND},
	} {
		_, err := e.change(u[1], g.ID, courier.KindReaction, c.target, c.body)
		if courier.ErrorCode(err) != c.code {
			t.Errorf("%s: %v, want %s", c.name, err, c.code)
		}
	}
}

func TestEdits(t *testing.T) {
	e := newEnv(t, postgres.ConversationConfig{}, postgres.MessageConfig{EditWindow: 2 * time.Second})
	ctx := context.Background()
	u := e.users(t, 2)
	conv, _ := e.convs.CreateDirect(ctx, u[0].UserID, u[1].UserID)
	m := e.send(t, u[0], conv.ID)

	edit, err := e.change(u[0], conv.ID, courier.KindEdit, m.Seq, "hello, edited")
	if err != nil || edit.Seq != m.Seq+1 || edit.Kind != courier.KindEdit {
		t.Fatalf("edit: %v %+v", err, edit)
	}
	got := e.history(t, u[1], conv.ID)
	if string(got[m.Seq].Body) != "hello, edited" || got[m.Seq].EditedSeq != edit.Seq {
		t.Fatalf("the target after an edit: %+v", got[m.Seq])
	}
	_, err = e.change(u[1], conv.ID, courier.KindEdit, m.Seq, "not yours")
	wantCode(t, err, courier.EFORBIDDEN)
	_, err = e.change(u[0], conv.ID, courier.KindEdit, edit.Seq, "an edit of an edit")
	wantCode(t, err, courier.EINVALID)
	_, _, err = e.msgs.Send(ctx, u[0], courier.SendRequest{ConversationID: conv.ID, ClientID: "e", Kind: courier.KindEdit, Target: m.Seq})
	wantCode(t, err, courier.EINVALID) // no body

	// A resend of the edit is answered with the original, stored once.
	req := courier.SendRequest{ConversationID: conv.ID, ClientID: "again", Kind: courier.KindEdit, Target: m.Seq, Body: []byte("v3")}
	first, _, err := e.msgs.Send(ctx, u[0], req)
	if err != nil {
		t.Fatal(err)
	}
	if again, created, err := e.msgs.Send(ctx, u[0], req); err != nil || created || again.Seq != first.Seq {
		t.Fatalf("resend of an edit: %v created=%v seq %d, want %d", err, created, again.Seq, first.Seq)
	}

	time.Sleep(2100 * time.Millisecond)
	_, err = e.change(u[0], conv.ID, courier.KindEdit, m.Seq, "too late")
	wantCode(t, err, courier.EFORBIDDEN)
}

func TestDeleteForEveryone(t *testing.T) {
	e := newEnv(t, postgres.ConversationConfig{}, postgres.MessageConfig{DeleteWindow: 2 * time.Second})
	ctx := context.Background()
	u := e.users(t, 3)
	g := e.group(t, u[0], u[1], u[2]) // u[0] is the admin
	b := blob(t, e, u[1])
	m := e.send(t, u[1], g.ID, b)
	if ok, _ := e.blobs.CanReadBlob(ctx, u[2].UserID, b); !ok {
		t.Fatal("a member cannot read the attachment before the delete")
	}
	edit, err := e.change(u[1], g.ID, courier.KindEdit, m.Seq, "secret, edited")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.change(u[2], g.ID, courier.KindReaction, m.Seq, "😮"); err != nil {
		t.Fatal(err)
	}

	// Another member may not; the sender may.
	_, err = e.change(u[2], g.ID, courier.KindDelete, m.Seq, "")
	wantCode(t, err, courier.EFORBIDDEN)
	_, err = e.change(u[1], g.ID, courier.KindDelete, m.Seq, "a body")
	wantCode(t, err, courier.EINVALID)
	del, err := e.change(u[1], g.ID, courier.KindDelete, m.Seq, "")
	if err != nil || del.Kind != courier.KindDelete {
		t.Fatalf("delete: %v %+v", err, del)
	}
	got := e.history(t, u[2], g.ID)
	tomb := got[m.Seq]
	if len(tomb.Body) != 0 || len(tomb.Attachments) != 0 || tomb.DeletedSeq != del.Seq || len(tomb.Reactions) != 0 {
		t.Fatalf("tombstone %+v: want no body, attachments or reactions, deleted at %d", tomb, del.Seq)
	}
	if len(got[edit.Seq].Body) != 0 {
		t.Fatalf("the edit's text survived the delete: %q", got[edit.Seq].Body)
	}
	if ok, _ := e.blobs.CanReadBlob(ctx, u[2].UserID, b); ok {
		t.Fatal("a member can still read the deleted message's attachment")
	}
	// A deleted message takes no more changes.
	_, err = e.change(u[1], g.ID, courier.KindEdit, m.Seq, "back")
	wantCode(t, err, courier.ECONFLICT)
	_, err = e.change(u[2], g.ID, courier.KindReaction, m.Seq, "👍")
	wantCode(t, err, courier.ECONFLICT)

	// Past the window the sender may not, the group's admin still may.
	late := e.send(t, u[1], g.ID)
	time.Sleep(2100 * time.Millisecond)
	_, err = e.change(u[1], g.ID, courier.KindDelete, late.Seq, "")
	wantCode(t, err, courier.EFORBIDDEN)
	if _, err := e.change(u[0], g.ID, courier.KindDelete, late.Seq, ""); err != nil {
		t.Fatalf("an admin's delete: %v", err)
	}

	// In a direct conversation nobody is an admin.
	d, _ := e.convs.CreateDirect(ctx, u[0].UserID, u[1].UserID)
	dm := e.send(t, u[1], d.ID)
	_, err = e.change(u[0], d.ID, courier.KindDelete, dm.Seq, "")
	wantCode(t, err, courier.EFORBIDDEN)
}
