package api_test

import (
	"encoding/json"
	"net/http"
	"strconv"
	"testing"

	"github.com/courier-chat/courier"
	"github.com/courier-chat/courier/api"
)

func TestMailboxRoutes(t *testing.T) {
	k := newKeyServer(t, 3, api.KeyLimits{})
	alice, bob, stranger := &k.users[0], &k.users[1], &k.users[2]
	k.do(t, alice, "POST", "/v1/conversations", api.CreateConversationRequest{Kind: courier.ConversationDirect, UserID: bob.id}, http.StatusOK, nil)
	var devs struct{ Devices []courier.Device }
	k.do(t, bob, "GET", "/v1/devices", nil, http.StatusOK, &devs)
	bobPhone := devs.Devices[0].ID

	var put api.MailboxPutResponse
	k.do(t, alice, "POST", "/v1/mailbox", api.MailboxPutRequest{Items: []courier.MailboxPut{{DeviceID: bobPhone, Payload: []byte("sealed")}}}, http.StatusCreated, &put)
	ev := k.eventsOf(bob.id, courier.EventMailbox)
	if len(put.Items) != 1 || len(ev) != 1 {
		t.Fatalf("stored %+v, %d live events to bob; want 1 and 1", put.Items, len(ev))
	}
	var live courier.MailboxItem
	json.Unmarshal(ev[0].Data, &live)
	if live.DeviceID != bobPhone || string(live.Payload) != "sealed" || live.ID != put.Items[0].ID {
		t.Errorf("live event %s", ev[0].Data)
	}
	k.do(t, stranger, "POST", "/v1/mailbox", api.MailboxPutRequest{Items: []courier.MailboxPut{{DeviceID: bobPhone, Payload: []byte("spam")}}}, http.StatusNotFound, nil)
	k.do(t, alice, "POST", "/v1/mailbox", api.MailboxPutRequest{}, http.StatusBadRequest, nil)

	var list api.MailboxResponse
	k.do(t, bob, "GET", "/v1/mailbox?after=0&limit=10", nil, http.StatusOK, &list)
	if len(list.Items) != 1 || string(list.Items[0].Payload) != "sealed" {
		t.Fatalf("bob's mailbox: %+v", list.Items)
	}
	k.do(t, alice, "GET", "/v1/mailbox", nil, http.StatusOK, &list)
	if len(list.Items) != 0 {
		t.Errorf("alice sees bob's payloads: %+v", list.Items)
	}
	var acked map[string]int
	k.do(t, bob, "POST", "/v1/mailbox/ack", api.MailboxAckRequest{IDs: []int64{put.Items[0].ID}}, http.StatusOK, &acked)
	k.do(t, bob, "GET", "/v1/mailbox?after="+strconv.Itoa(0), nil, http.StatusOK, &list)
	if acked["deleted"] != 1 || len(list.Items) != 0 {
		t.Errorf("after ack: deleted %d, %d left", acked["deleted"], len(list.Items))
	}
	k.do(t, bob, "GET", "/v1/mailbox?after=-1", nil, http.StatusBadRequest, nil)
}
