package main

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/courier-chat/courier"
	"github.com/courier-chat/courier/messaging"
)

// Three serve processes share one schema and Redis; clients spread across
// them exchange messages (over WS and HTTP), receipts and typing.
func TestMessaging_ThreeNodes(t *testing.T) {
	cfg := testConfig(t)
	cfg.OpenSignup, cfg.AutoMigrate = true, true
	nodes := []*testProcess{startProcess(t, "serve", cfg), startProcess(t, "serve", cfg), startProcess(t, "serve", cfg)}

	alice, bob, carol := createAccount(t, nodes[0], "alice"), createAccount(t, nodes[1], "bob"), createAccount(t, nodes[2], "carol")
	var tablet account
	do(t, "POST", nodes[0].URL+"/v1/devices", alice.Token, map[string]string{"name": "tablet"}, &tablet)
	group := createConversation(t, nodes[0].URL, alice.Token, map[string]any{
		"kind": "group", "name": "trip", "members": []string{bob.UserID, carol.UserID}})

	// A socket without a token is refused before the upgrade.
	if _, resp, err := dialSocket(nodes[0].URL, "", true); err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("anonymous socket: %v", err)
	}

	clients := map[string]*wsClient{
		"alice":  newWSClient(t, nodes[0].URL, alice.Token),
		"tablet": newWSClient(t, nodes[2].URL, tablet.Token),
		"bob":    newWSClient(t, nodes[1].URL, bob.Token),
		"carol":  newWSClient(t, nodes[2].URL, carol.Token),
	}
	for _, c := range clients {
		c.next("synced", c.send("sync", map[string]any{"cursors": map[string]int64{}}))
	}
	senders := []string{"alice", "bob", "carol"}
	own := map[string]map[int64]bool{} // seqs each socket holds by its `sent`
	for i := range 5 {
		for _, s := range senders {
			c := clients[s]
			sent := decodeAs[messaging.SentData](t, c.next("sent", c.send("send", map[string]any{"conversation_id": group, "client_id": fmt.Sprint(s, i), "body": []byte(s)})))
			if own[s] == nil {
				own[s] = map[int64]bool{}
			}
			own[s][sent.Seq] = true
		}
	}
	// One more over HTTP, from bob's node.
	if resp := do(t, "POST", nodes[1].URL+"/v1/conversations/"+group+"/messages", bob.Token,
		map[string]any{"client_id": "http1", "body": []byte("from a bot")}, nil); resp.StatusCode != 201 {
		t.Fatalf("HTTP send: %d", resp.StatusCode)
	}
	// Every socket gets every message in order, but those it sent itself.
	for name, c := range clients {
		for want := int64(1); want <= 16; want++ {
			if own[name][want] {
				continue
			}
			m := decodeAs[wsMessage](t, c.next("message", ""))
			if m.Seq != want || m.ConversationID != group {
				t.Fatalf("%s: got seq %d, want %d", name, m.Seq, want)
			}
		}
	}

	// Carol reads everything (bob sent the last one, so only his own
	// watermark is there already): the others' devices see it, on every node.
	c := clients["carol"]
	c.next("ok", c.send("receipt", map[string]any{"conversation_id": group, "kind": "read", "seq": 16}))
	for _, name := range []string{"alice", "tablet", "bob"} {
		r := decodeAs[courier.Receipt](t, clients[name].next("receipt", ""))
		if r.UserID != carol.UserID || r.ReadSeq != 16 {
			t.Fatalf("%s sees receipt %+v", name, r)
		}
	}
	// Carol types: everyone else is told, across nodes.
	c = clients["carol"]
	c.next("ok", c.send("typing", map[string]any{"conversation_id": group, "state": "start"}))
	for _, name := range []string{"alice", "tablet", "bob"} {
		ty := decodeAs[messaging.TypingEvent](t, clients[name].next("typing", ""))
		if ty.UserID != carol.UserID || ty.State != "start" {
			t.Fatalf("%s sees typing %+v", name, ty)
		}
	}
}
