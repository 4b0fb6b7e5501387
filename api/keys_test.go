package api_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/courier-chat/courier"
	"github.com/courier-chat/courier/api"
	"github.com/courier-chat/courier/client/e2e"
	"github.com/courier-chat/courier/inmem"
	"github.com/courier-chat/courier/internal/testenv"
	"github.com/courier-chat/courier/messaging"
	"github.com/courier-chat/courier/postgres"
)

// keyServer is an API server with the key, mailbox and messaging routes
// over a real database, publishing on an in-process bus whose events to
// every test user are recorded.
type keyServer struct {
	*messagingServer
	mu     sync.Mutex
	events map[string][]courier.Event // by user ID
}

func newKeyServer(t *testing.T, users int, limits api.KeyLimits) *keyServer {
	t.Helper()
	db := testenv.NewDB(t)
	accounts := postgres.NewAccountService(db.Pool)
	s := api.NewServer(api.Config{}, accounts, slog.New(slog.NewTextHandler(io.Discard, nil)), prometheus.NewRegistry())
	msgs := postgres.NewMessageStore(db.Pool, postgres.MessageConfig{})
	t.Cleanup(func() { msgs.Close() })
	s.MountMessaging(postgres.NewConversationService(db.Pool, postgres.ConversationConfig{}), msgs)
	s.MountKeys(postgres.NewKeyStore(db.Pool), limits)
	s.MountMailbox(postgres.NewMailboxStore(db.Pool))
	bus := inmem.NewEventBus()
	s.SetEventPublisher(bus)
	k := &keyServer{messagingServer: &messagingServer{srv: httptest.NewServer(s.Handler())}, events: map[string][]courier.Event{}}
	t.Cleanup(k.srv.Close)
	bus.Handle(func(topic string, e courier.Event) {
		k.mu.Lock()
		k.events[topic[len("u:"):]] = append(k.events[topic[len("u:"):]], e)
		k.mu.Unlock()
	})
	for range users {
		u, _, token, err := accounts.CreateAccount(context.Background(), "user", "phone")
		if err != nil {
			t.Fatal(err)
		}
		k.users = append(k.users, messagingUser{id: u.ID, token: token})
		bus.Subscribe(context.Background(), courier.UserTopic(u.ID))
	}
	return k
}

// eventsOf returns and forgets the events of type typ a user got.
func (k *keyServer) eventsOf(userID, typ string) []courier.Event {
	k.mu.Lock()
	defer k.mu.Unlock()
	var out, rest []courier.Event
	for _, e := range k.events[userID] {
		if e.Type == typ {
			out = append(out, e)
		} else {
			rest = append(rest, e)
		}
	}
	k.events[userID] = rest
	return out
}

// upload puts an X25519 signed and last-resort key and n one-time keys.
func (k *keyServer) upload(t *testing.T, u *messagingUser, id *e2e.Identity, n int) {
	t.Helper()
	up := courier.KeyUpload{IdentityKey: id.Public()}
	for i := range n + 2 {
		kind := map[int]courier.PrekeyKind{0: courier.PrekeySigned, 1: courier.PrekeyLastResort}[i]
		if i > 1 {
			kind = courier.PrekeyOneTime
		}
		p, err := id.NewPrekey(courier.KEMX25519, kind, uint32(i+1))
		if err != nil {
			t.Fatal(err)
		}
		up.Prekeys = append(up.Prekeys, p.Public)
	}
	k.do(t, u, "PUT", "/v1/keys", up, http.StatusOK, nil)
}

func TestKeyRoutes(t *testing.T) {
	k := newKeyServer(t, 2, api.KeyLimits{})
	alice, bob := &k.users[0], &k.users[1]
	k.do(t, alice, "POST", "/v1/conversations", api.CreateConversationRequest{Kind: courier.ConversationDirect, UserID: bob.id}, http.StatusOK, nil)
	id := e2e.NewIdentity()
	k.upload(t, bob, id, courier.LowPrekeyThreshold)
	if got := k.eventsOf(alice.id, courier.EventDevicesChanged); len(got) != 1 {
		t.Errorf("alice got %d devices.changed events when bob's device got keys, want 1", len(got))
	}
	var counts api.KeyCountsResponse
	k.do(t, bob, "GET", "/v1/keys", nil, http.StatusOK, &counts)
	if len(counts.Counts) != 1 || counts.Counts[0].OneTime != courier.LowPrekeyThreshold {
		t.Fatalf("counts %+v", counts)
	}

	// A fetch claims a one-time key and, the stock now under the
	// threshold, tells bob's devices.
	var got api.DeviceKeysResponse
	k.do(t, alice, "GET", "/v1/users/"+bob.id+"/keys?kem=x25519", nil, http.StatusOK, &got)
	b := got.Devices[0]
	if b.Prekey.Kind != courier.PrekeyOneTime || b.Prekey.Verify(id.Public()) != nil || b.SignedPrekey.Verify(id.Public()) != nil {
		t.Errorf("bundle %+v: want a one-time key, all verifying with bob's identity", b)
	}
	if got := k.eventsOf(bob.id, courier.EventKeysLow); len(got) != 1 {
		t.Errorf("bob got %d keys.low events, want 1", len(got))
	}

	// The consistency check: the device's own digest matches; another not.
	d := courier.KeyDigest(id.Public(), []*courier.Prekey{b.SignedPrekey, lastResort(t, k, alice, bob.id)})
	k.do(t, bob, "POST", "/v1/keys/check", api.KeyCheckRequest{Digest: d[:]}, http.StatusOK, nil)
	k.do(t, bob, "POST", "/v1/keys/check", api.KeyCheckRequest{Digest: make([]byte, 32)}, http.StatusConflict, nil)
	k.do(t, alice, "POST", "/v1/keys/check", api.KeyCheckRequest{Digest: d[:]}, http.StatusNotFound, nil)
}

// lastResort drains the target's stock and returns the last-resort key.
func lastResort(t *testing.T, k *keyServer, as *messagingUser, target string) *courier.Prekey {
	for range courier.LowPrekeyThreshold + 1 {
		var got api.DeviceKeysResponse
		k.do(t, as, "GET", "/v1/users/"+target+"/keys?kem=x25519", nil, http.StatusOK, &got)
		if p := got.Devices[0].Prekey; p.Kind == courier.PrekeyLastResort {
			return p
		}
	}
	t.Fatal("the stock never ran out")
	return nil
}

func TestKeyRoutesRefuse(t *testing.T) {
	k := newKeyServer(t, 2, api.KeyLimits{PerPair: messaging.NewLimiter(0.001, 2)})
	alice, bob := &k.users[0], &k.users[1]
	id, other := e2e.NewIdentity(), e2e.NewIdentity()
	forged, _ := other.NewPrekey(courier.KEMX25519, courier.PrekeySigned, 1)
	k.do(t, bob, "PUT", "/v1/keys", courier.KeyUpload{IdentityKey: id.Public(), Prekeys: []courier.Prekey{forged.Public}}, http.StatusBadRequest, nil)
	k.do(t, alice, "GET", "/v1/users/"+bob.id+"/keys", nil, http.StatusNotFound, nil)
	k.upload(t, bob, id, 3)
	k.do(t, bob, "PUT", "/v1/keys", courier.KeyUpload{IdentityKey: other.Public()}, http.StatusConflict, nil)
	for _, path := range []string{"/v1/users/nope/keys", "/v1/users/" + bob.id + "/keys?kem=rsa"} {
		k.do(t, alice, "GET", path, nil, map[bool]int{true: http.StatusNotFound, false: http.StatusBadRequest}[path == "/v1/users/nope/keys"], nil)
	}
	// The pair bucket holds 2 fetches (the refused 404 above took one).
	k.do(t, alice, "GET", "/v1/users/"+bob.id+"/keys", nil, http.StatusOK, nil)
	req, _ := http.NewRequest("GET", fmt.Sprintf("%s/v1/users/%s/keys", k.srv.URL, bob.id), nil)
	req.Header.Set("Authorization", "Bearer "+alice.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Errorf("third fetch: %d, Retry-After %q; want 429 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
}

// A revoked device's keys are never served again, and peers are told.
func TestKeyRoutesRevokedDevice(t *testing.T) {
	k := newKeyServer(t, 2, api.KeyLimits{})
	alice, bob := &k.users[0], &k.users[1]
	k.do(t, alice, "POST", "/v1/conversations", api.CreateConversationRequest{Kind: courier.ConversationDirect, UserID: bob.id}, http.StatusOK, nil)
	k.upload(t, bob, e2e.NewIdentity(), 1)
	var tablet api.AccountResponse
	k.do(t, bob, "POST", "/v1/devices", map[string]string{"name": "tablet"}, http.StatusCreated, &tablet)
	bobTablet := &messagingUser{id: bob.id, token: tablet.Token}
	k.upload(t, bobTablet, e2e.NewIdentity(), 1)
	var got api.DeviceKeysResponse
	k.do(t, alice, "GET", "/v1/users/"+bob.id+"/keys", nil, http.StatusOK, &got)
	if len(got.Devices) != 2 {
		t.Fatalf("%d devices served, want 2", len(got.Devices))
	}
	k.eventsOf(alice.id, courier.EventDevicesChanged)
	k.do(t, bob, "DELETE", "/v1/devices/"+tablet.DeviceID, nil, http.StatusNoContent, nil)
	if n := len(k.eventsOf(alice.id, courier.EventDevicesChanged)); n != 1 {
		t.Errorf("alice got %d devices.changed events on the revocation, want 1", n)
	}
	k.do(t, alice, "GET", "/v1/users/"+bob.id+"/keys", nil, http.StatusOK, &got)
	if len(got.Devices) != 1 || got.Devices[0].DeviceID == tablet.DeviceID {
		t.Errorf("after revocation: %+v, want only the phone", got.Devices)
	}
	k.do(t, alice, "GET", "/v1/users/"+bob.id+"/keys?device_id="+tablet.DeviceID, nil, http.StatusNotFound, nil)
}

// The identity lookup lists a user's recipient devices with their
// identity keys and nothing else, claims nothing (the one-time stock
// stays), and answers 404 for a user without keys.
func TestKeyRoutesIdentities(t *testing.T) {
	k := newKeyServer(t, 2, api.KeyLimits{PerPair: messaging.NewLimiter(0.001, 1)})
	alice, bob := &k.users[0], &k.users[1]
	k.do(t, alice, "GET", "/v1/users/"+bob.id+"/identities", nil, http.StatusNotFound, nil)
	id := e2e.NewIdentity()
	k.upload(t, bob, id, 3)
	for range 3 { // beyond the pair limit of claims: lookups are not claims
		var got api.DeviceKeysResponse
		k.do(t, alice, "GET", "/v1/users/"+bob.id+"/identities", nil, http.StatusOK, &got)
		if len(got.Devices) != 1 || !bytes.Equal(got.Devices[0].IdentityKey, id.Public()) ||
			got.Devices[0].UserID != bob.id || got.Devices[0].Prekey != nil || got.Devices[0].SignedPrekey != nil {
			t.Fatalf("identities %+v", got.Devices)
		}
	}
	var counts api.KeyCountsResponse
	k.do(t, bob, "GET", "/v1/keys", nil, http.StatusOK, &counts)
	if counts.Counts[0].OneTime != 3 {
		t.Fatalf("the stock is %d after lookups, want 3", counts.Counts[0].OneTime)
	}
	k.do(t, alice, "GET", "/v1/users/nope/identities", nil, http.StatusNotFound, nil)
}
