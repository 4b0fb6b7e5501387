package main

import (
	"net/http"
	"testing"
	"time"

	"github.com/courier-chat/courier"
	"github.com/courier-chat/courier/api"
	"github.com/courier-chat/courier/messaging"
)

// Two devices of one user stay in step on conversation state and blocks,
// and a block holds in the send path, typing and presence, on two nodes.
func TestMessaging_ConversationStateAndBlocks(t *testing.T) {
	cfg := testConfig(t)
	cfg.OpenSignup, cfg.AutoMigrate = true, true
	nodes := []*testProcess{startProcess(t, "serve", cfg), startProcess(t, "serve", cfg)}
	alice, bob, carol := createAccount(t, nodes[0], "alice"), createAccount(t, nodes[1], "bob"), createAccount(t, nodes[0], "carol")
	var tablet account
	do(t, "POST", nodes[0].URL+"/v1/devices", alice.Token, map[string]string{"name": "tablet"}, &tablet)
	direct := createConversation(t, nodes[0].URL, alice.Token, map[string]any{"kind": "direct", "user_id": bob.UserID})
	group := createConversation(t, nodes[0].URL, alice.Token, map[string]any{
		"kind": "group", "name": "trip", "members": []string{bob.UserID, carol.UserID}})
	phone, tab := newWSClient(t, nodes[0].URL, alice.Token), newWSClient(t, nodes[1].URL, tablet.Token)
	bobWS, carolWS := newWSClient(t, nodes[1].URL, bob.Token), newWSClient(t, nodes[0].URL, carol.Token)

	// One PATCH from the phone's HTTP: both of alice's sockets hear it.
	until := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	var st courier.ConversationState
	if resp := do(t, "PATCH", nodes[0].URL+"/v1/conversations/"+direct+"/state", alice.Token,
		map[string]any{"muted": true, "muted_until": until, "pinned": true, "archived": true}, &st); resp.StatusCode != 200 {
		t.Fatalf("PATCH state: %d", resp.StatusCode)
	}
	for _, c := range []*wsClient{phone, tab} {
		got := decodeAs[courier.ConversationState](t, c.next(courier.EventConversationState, ""))
		if got.ConversationID != direct || !got.Pinned || !got.Archived || got.MarkedUnread ||
			got.MutedUntil == nil || !got.MutedUntil.Equal(until) {
			t.Fatalf("conversation.state: %+v", got)
		}
	}
	var list struct {
		Conversations []courier.ConversationView `json:"conversations"`
	}
	do(t, "GET", nodes[1].URL+"/v1/conversations", tablet.Token, nil, &list)
	for _, v := range list.Conversations {
		if pinned := v.ID == direct; v.State == nil || v.State.Pinned != pinned {
			t.Fatalf("list state of %s: %+v", v.ID, v.State)
		}
	}
	var view courier.Conversation
	do(t, "GET", nodes[1].URL+"/v1/conversations/"+direct, bob.Token, nil, &view)
	if view.State == nil || view.State.Pinned || view.State.MutedUntil != nil {
		t.Fatalf("bob's state is alice's: %+v", view.State)
	}
	if resp := do(t, "PATCH", nodes[0].URL+"/v1/conversations/"+direct+"/state", alice.Token,
		map[string]any{"muted_until": until}, nil); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("muted_until alone: %d", resp.StatusCode)
	}

	// Alice blocks bob; both her devices hear of it.
	if resp := do(t, "POST", nodes[0].URL+"/v1/blocks/"+bob.UserID, alice.Token, nil, nil); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("block: %d", resp.StatusCode)
	}
	for _, c := range []*wsClient{phone, tab} {
		if got := decodeAs[courier.BlocksChanged](t, c.next(courier.EventBlocksChanged, "")); got.UserID != bob.UserID || !got.Blocked {
			t.Fatalf("blocks.changed: %+v", got)
		}
	}
	var blocks struct {
		Blocks []courier.Block `json:"blocks"`
	}
	if do(t, "GET", nodes[1].URL+"/v1/blocks", tablet.Token, nil, &blocks); len(blocks.Blocks) != 1 || blocks.Blocks[0].UserID != bob.UserID {
		t.Fatalf("GET /v1/blocks: %+v", blocks)
	}
	// Bob cannot message her directly, over the socket or HTTP.
	f := bobWS.next(courier.FrameError, bobWS.send("send", map[string]any{"conversation_id": direct, "client_id": "b1", "body": []byte("hi")}))
	if e := decodeAs[messaging.ErrorData](t, f); e.Code != courier.EBLOCKED {
		t.Fatalf("blocked send over the socket: %+v", e)
	}
	var herr api.ErrorBody
	if resp := do(t, "POST", nodes[1].URL+"/v1/conversations/"+direct+"/messages", bob.Token,
		map[string]any{"client_id": "b2", "body": []byte("hi")}, &herr); resp.StatusCode != http.StatusForbidden || herr.Error.Code != courier.EBLOCKED {
		t.Fatalf("blocked send over HTTP: %d %+v", resp.StatusCode, herr)
	}
	// Bob sees her offline though she is online; carol would not be told otherwise.
	bobWS.next(courier.FrameOK, bobWS.send(courier.FramePresenceSubscribe, map[string]any{"conversation_ids": []string{direct}}))
	if p := decodeAs[messaging.PresenceEvent](t, bobWS.next(courier.EventPresence, "")); p.Online || p.LastSeen != nil {
		t.Fatalf("bob sees alice's presence: %+v", p)
	}
	// In the group alice types: carol sees it, bob does not; then her
	// message reaches both (they stay members).
	phone.next(courier.FrameOK, phone.send(courier.FrameTyping, map[string]any{"conversation_id": group, "state": "start"}))
	carolWS.next(courier.EventTyping, "")
	phone.next(courier.FrameSent, phone.send("send", map[string]any{"conversation_id": group, "client_id": "a1", "body": []byte("hello")}))
	bobWS.next("message", "")
	for _, f := range bobWS.held {
		if f.Type == courier.EventTyping {
			t.Fatalf("bob saw alice typing: %s", f.Data)
		}
	}
	// Unblocked, bob writes again.
	do(t, "DELETE", nodes[1].URL+"/v1/blocks/"+bob.UserID, tablet.Token, nil, nil)
	if got := decodeAs[courier.BlocksChanged](t, phone.next(courier.EventBlocksChanged, "")); got.Blocked {
		t.Fatalf("unblock event: %+v", got)
	}
	bobWS.next(courier.FrameSent, bobWS.send("send", map[string]any{"conversation_id": direct, "client_id": "b3", "body": []byte("hi")}))
}
