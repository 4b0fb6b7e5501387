package fcm_test

import (
	"context"
	"encoding/base64"
	"errors"
	"testing"
	"time"

	"github.com/courier-chat/courier"
	"github.com/courier-chat/courier/fcm"
	"github.com/courier-chat/courier/fcm/fcmtest"
)

func newClient(t *testing.T, fake *fcmtest.Server) *fcm.Client {
	t.Helper()
	c, err := fcm.New(fcm.Config{Credentials: fake.Credentials(), URL: fake.URL, RootCAs: fake.CertPool()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func note(token string) *courier.Notification {
	badge := 2
	return &courier.Notification{Kind: courier.PushMessage, Alert: "New message", Badge: &badge, CollapseID: "c0ll4ps3",
		Sealed: []byte("sealed bytes"), Expiration: time.Now().Add(time.Hour),
		Registration: &courier.PushRegistration{Service: courier.PushFCM, Token: token}}
}

func TestSendMessage(t *testing.T) {
	fake := fcmtest.New(t)
	c := newClient(t, fake)
	token := fake.AddDevice()
	for range 3 {
		if err := c.Send(context.Background(), note(token)); err != nil {
			t.Fatal(err)
		}
	}
	got := fake.Accepted()
	if len(got) != 3 || fake.Grants() != 1 {
		t.Fatalf("%d accepted with %d access tokens, want 3 with one token reused", len(got), fake.Grants())
	}
	m := got[0]
	sealed, _ := base64.StdEncoding.DecodeString(m.Data["sealed"])
	if m.Token != token || string(sealed) != "sealed bytes" || m.Data["v"] != "1" || m.Data["kind"] != "message" {
		t.Fatalf("message %+v", m)
	}
	if m.Android["collapse_key"] != "c0ll4ps3" || m.Android["priority"] != "HIGH" {
		t.Fatalf("android %v", m.Android)
	}
	headers := m.APNs["headers"].(map[string]any)
	aps := m.APNs["payload"].(map[string]any)["aps"].(map[string]any)
	if headers["apns-collapse-id"] != "c0ll4ps3" || aps["mutable-content"] != float64(1) || aps["badge"] != float64(2) {
		t.Fatalf("apns %v", m.APNs)
	}
	// A revoked access token: a new one is fetched and the send goes on.
	fake.RevokeTokens()
	if err := c.Send(context.Background(), note(token)); err != nil || fake.Grants() != 2 {
		t.Fatalf("after revocation: %v, %d grants", err, fake.Grants())
	}
}

func TestResponses(t *testing.T) {
	fake := fcmtest.New(t)
	c := newClient(t, fake)
	token := fake.AddDevice()
	gone := fake.AddDevice()
	fake.Unregister(gone)
	for _, tc := range []struct {
		name       string
		script     []fcmtest.Reply
		token      string
		reason     string
		tokenGone  bool
		retry      bool
		retryAfter time.Duration
	}{
		{name: "unregistered", token: gone, reason: "UNREGISTERED", tokenGone: true},
		{name: "invalid token", token: "not-a-token", reason: "INVALID_ARGUMENT"},
		{name: "other project", script: []fcmtest.Reply{{Status: 403, APIStatus: "PERMISSION_DENIED", ErrorCode: "SENDER_ID_MISMATCH"}},
			reason: "SENDER_ID_MISMATCH", tokenGone: true},
		{name: "quota", script: []fcmtest.Reply{{Status: 429, APIStatus: "RESOURCE_EXHAUSTED", ErrorCode: "QUOTA_EXCEEDED", RetryAfter: 60}},
			reason: "QUOTA_EXCEEDED", retry: true, retryAfter: time.Minute},
		{name: "unavailable", script: []fcmtest.Reply{{Status: 503, APIStatus: "UNAVAILABLE", ErrorCode: "UNAVAILABLE"}},
			reason: "UNAVAILABLE", retry: true},
		{name: "internal", script: []fcmtest.Reply{{Status: 500, APIStatus: "INTERNAL", ErrorCode: "INTERNAL"}},
			reason: "INTERNAL", retry: true},
		{name: "apns auth in firebase", script: []fcmtest.Reply{{Status: 401, APIStatus: "UNAUTHENTICATED", ErrorCode: "THIRD_PARTY_AUTH_ERROR"}},
			reason: "THIRD_PARTY_AUTH_ERROR"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake.Script(tc.script...)
			n := note(token)
			if tc.token != "" {
				n.Registration.Token = tc.token
			}
			var pe *courier.PushError
			if err := c.Send(context.Background(), n); !errors.As(err, &pe) {
				t.Fatalf("err %v, want a PushError", err)
			}
			if pe.Reason != tc.reason || pe.TokenGone != tc.tokenGone || pe.Retry != tc.retry || pe.RetryAfter != tc.retryAfter {
				t.Fatalf("%+v, want reason %s gone %v retry %v after %v", pe, tc.reason, tc.tokenGone, tc.retry, tc.retryAfter)
			}
		})
	}
}

func TestNewRefusesBadCredentials(t *testing.T) {
	for _, creds := range []string{`not json`, `{"type":"authorized_user"}`,
		`{"type":"service_account","project_id":"p","client_email":"e","token_uri":"https://x/token","private_key":"nope"}`} {
		if _, err := fcm.New(fcm.Config{Credentials: []byte(creds)}); err == nil {
			t.Errorf("accepted %s", creds)
		}
	}
}
