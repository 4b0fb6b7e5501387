package api_test

import (
	"net/http"
	"slices"
	"testing"

	"github.com/courier-chat/courier"
	"github.com/courier-chat/courier/api"
	"github.com/courier-chat/courier/client/e2e"
)

// An encrypted send over HTTP that names other recipient devices than the
// conversation's is answered 409 with the missing and extra devices in
// the error body; the right set is stored.
func TestEncryptedSendHTTP(t *testing.T) {
	k := newKeyServer(t, 2, api.KeyLimits{})
	alice, bob := &k.users[0], &k.users[1]
	k.upload(t, alice, e2e.NewIdentity(), 1)
	k.upload(t, bob, e2e.NewIdentity(), 1)
	var c courier.Conversation
	k.do(t, alice, "POST", "/v1/conversations", api.CreateConversationRequest{Kind: courier.ConversationDirect,
		UserID: bob.id, Encrypted: true}, http.StatusOK, &c)
	if !c.Encrypted {
		t.Fatalf("created %+v, want encrypted", c)
	}
	var keys api.DeviceKeysResponse
	k.do(t, alice, "GET", "/v1/users/"+bob.id+"/keys", nil, http.StatusOK, &keys)
	bobDevice := keys.Devices[0].DeviceID

	var refused api.ErrorBody
	k.do(t, alice, "POST", "/v1/conversations/"+c.ID+"/messages", api.SendMessageRequest{ClientID: "c1", Body: []byte{1},
		Devices: []string{"stale-device"}}, http.StatusConflict, &refused)
	if d := refused.Error.DeviceMismatch; refused.Error.Code != courier.ECONFLICT || d == nil ||
		!slices.Equal(d.Missing, []string{bobDevice}) || !slices.Equal(d.Extra, []string{"stale-device"}) {
		t.Fatalf("refusal %+v, want %s missing and stale-device extra", refused.Error, bobDevice)
	}
	k.do(t, alice, "POST", "/v1/conversations/"+c.ID+"/messages", api.SendMessageRequest{ClientID: "c1", Body: []byte{1},
		Devices: []string{bobDevice}}, http.StatusCreated, nil)
}
