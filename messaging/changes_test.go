package messaging_test

import (
	"testing"

	"github.com/courier-chat/courier"
	"github.com/courier-chat/courier/messaging"
)

// Reactions, edits and deletes travel as entries of the log: live to the
// members' sockets on any node, and to a device that was offline only
// through its sync, which then holds the edited or deleted state.
func TestGateway_ChangesLiveAndThroughSync(t *testing.T) {
	c := newCluster(t)
	a, b := c.node(), c.node()
	alice, bob := c.user("alice", 1), c.user("bob", 2)
	conv := c.direct(alice, bob)
	phone := dial(t, a, alice.tokens[0])
	bobc := dial(t, b, bob.tokens[0])
	// bob's second device is offline throughout.

	send := func(cl *client, data map[string]any) messaging.SentData {
		t.Helper()
		return decode[messaging.SentData](t, cl.next("sent", cl.send("send", data)))
	}
	change := func(clientID string, kind courier.MessageKind, target int64, body string) map[string]any {
		d := map[string]any{"conversation_id": conv, "client_id": clientID, "kind": kind, "target_seq": target}
		if body != "" {
			d["body"] = []byte(body)
		}
		return d
	}
	first := send(phone, sendData(conv, "m1", "see you at 8"))
	bobc.next("message", "")
	reply := sendData(conv, "m2", "ok")
	reply["reply_to"] = first.Seq
	send(bobc, reply)
	if m := decode[courier.Message](t, phone.next("message", "")); m.ReplyTo != first.Seq {
		t.Fatalf("reply arrived as %+v", m)
	}
	react := send(bobc, change("r1", courier.KindReaction, first.Seq, "👍"))
	if m := decode[courier.Message](t, phone.next("message", "")); m.Kind != courier.KindReaction || m.Target != first.Seq || string(m.Body) != "👍" || m.Seq != react.Seq {
		t.Fatalf("reaction arrived as %+v", m)
	}
	edit := send(phone, change("e1", courier.KindEdit, first.Seq, "see you at 9"))
	if m := decode[courier.Message](t, bobc.next("message", "")); m.Kind != courier.KindEdit || string(m.Body) != "see you at 9" {
		t.Fatalf("edit arrived as %+v", m)
	}
	// Bob may not edit Alice's message: an error frame, the socket lives.
	id := bobc.send("send", change("e2", courier.KindEdit, first.Seq, "mine now"))
	if e := bobc.errorCode(id); e.Code != courier.EFORBIDDEN {
		t.Fatalf("someone else's edit: %+v", e)
	}
	del := send(phone, change("d1", courier.KindDelete, first.Seq, ""))
	if m := decode[courier.Message](t, bobc.next("message", "")); m.Kind != courier.KindDelete || m.Target != first.Seq {
		t.Fatalf("delete arrived as %+v", m)
	}

	// The offline device syncs: every entry in order, and the target as a
	// tombstone, its text and its edit's text gone.
	tablet := dial(t, b, bob.tokens[1])
	tablet.send("sync", map[string]any{"cursors": map[string]int64{}})
	got := map[int64]courier.Message{}
	for len(got) < int(del.Seq) {
		m := decode[courier.Message](t, tablet.next("message", ""))
		got[m.Seq] = m
	}
	if tomb := got[first.Seq]; len(tomb.Body) != 0 || tomb.DeletedSeq != del.Seq || tomb.EditedSeq != edit.Seq {
		t.Fatalf("synced target %+v, want a tombstone deleted at %d after the edit at %d", tomb, del.Seq, edit.Seq)
	}
	if e := got[edit.Seq]; e.Kind != courier.KindEdit || len(e.Body) != 0 {
		t.Fatalf("synced edit %+v: its text must be gone with the delete", e)
	}
	if r := got[react.Seq]; r.Kind != courier.KindReaction || r.Target != first.Seq {
		t.Fatalf("synced reaction %+v", r)
	}
}
