package apns_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/courier-chat/courier"
	"github.com/courier-chat/courier/apns"
	"github.com/courier-chat/courier/apns/apnstest"
)

const topic = "chat.courier.app"

func newClient(t *testing.T, fake *apnstest.Server) *apns.Client {
	t.Helper()
	c, err := apns.New(apns.Config{Key: fake.KeyPEM, KeyID: fake.KeyID, TeamID: fake.TeamID,
		ProductionURL: fake.URL, SandboxURL: fake.URL, RootCAs: fake.CertPool()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func alert(token string) *courier.Notification {
	badge := 3
	return &courier.Notification{Kind: courier.PushMessage, Alert: "New message", Badge: &badge, CollapseID: "c0ll4ps3",
		Sealed: []byte("sealed bytes"), Expiration: time.Unix(1900000000, 0),
		Registration: &courier.PushRegistration{Service: courier.PushAPNs, Token: token, Topic: topic, Environment: courier.PushSandbox}}
}

func TestSendHeadersAndPayload(t *testing.T) {
	fake := apnstest.New(t)
	c := newClient(t, fake)
	token := fake.AddDevice(topic)
	if err := c.Send(context.Background(), alert(token)); err != nil {
		t.Fatal(err)
	}
	silent := alert(token)
	silent.Kind = courier.PushSilent
	if err := c.Send(context.Background(), silent); err != nil {
		t.Fatal(err)
	}
	got := fake.Accepted()
	if len(got) != 2 {
		t.Fatalf("%d accepted, want 2", len(got))
	}
	h, p := got[0].Header, got[0].Payload
	for name, want := range map[string]string{"apns-push-type": "alert", "apns-priority": "10", "apns-topic": topic,
		"apns-expiration": "1900000000", "apns-collapse-id": "c0ll4ps3"} {
		if h.Get(name) != want {
			t.Errorf("%s: %q, want %q", name, h.Get(name), want)
		}
	}
	aps := p["aps"].(map[string]any)
	if aps["mutable-content"] != float64(1) || aps["badge"] != float64(3) || aps["thread-id"] != "c0ll4ps3" ||
		aps["alert"].(map[string]any)["body"] != "New message" {
		t.Errorf("aps %v", aps)
	}
	if p["sealed"] != "c2VhbGVkIGJ5dGVz" { // base64("sealed bytes")
		t.Errorf("sealed %v", p["sealed"])
	}
	// Silent: background, priority 5, nothing shown.
	h, aps = got[1].Header, got[1].Payload["aps"].(map[string]any)
	if h.Get("apns-push-type") != "background" || h.Get("apns-priority") != "5" || aps["content-available"] != float64(1) ||
		aps["alert"] != nil || aps["badge"] != nil || aps["sound"] != nil {
		t.Errorf("silent push: %v %v", h, aps)
	}
}

func TestConnectionReused(t *testing.T) {
	fake := apnstest.New(t)
	c := newClient(t, fake)
	token := fake.AddDevice(topic)
	// The first request opens the connection; then 40 at once share it.
	if err := c.Send(context.Background(), alert(token)); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var failed atomic.Int32
	for range 40 {
		wg.Go(func() {
			if err := c.Send(context.Background(), alert(token)); err != nil {
				failed.Add(1)
			}
		})
	}
	wg.Wait()
	if failed.Load() != 0 || len(fake.Accepted()) != 41 {
		t.Fatalf("%d failed, %d accepted", failed.Load(), len(fake.Accepted()))
	}
	if fake.Conns() != 1 {
		t.Fatalf("%d connections for 41 notifications, want 1", fake.Conns())
	}
	if fake.TokenUpdates() != 1 {
		t.Fatalf("%d provider tokens, want 1 reused", fake.TokenUpdates())
	}
}

func TestProviderTokenRefresh(t *testing.T) {
	fake := apnstest.New(t)
	c := newClient(t, fake)
	token := fake.AddDevice(topic)
	t0 := time.Now()
	var clientNow, fakeNow atomic.Int64
	clientNow.Store(t0.UnixNano())
	fakeNow.Store(t0.UnixNano())
	apns.SetClock(c, func() time.Time { return time.Unix(0, clientNow.Load()) })
	fake.Now = func() time.Time { return time.Unix(0, fakeNow.Load()) }
	send := func() {
		t.Helper()
		if err := c.Send(context.Background(), alert(token)); err != nil {
			t.Fatal(err)
		}
	}
	send()
	// Within Apple's 20 minutes the token is reused; at 40 it is renewed.
	clientNow.Add(int64(25 * time.Minute))
	fakeNow.Add(int64(25 * time.Minute))
	send()
	if fake.TokenUpdates() != 1 {
		t.Fatalf("token renewed after 25 minutes (%d tokens)", fake.TokenUpdates())
	}
	clientNow.Add(int64(16 * time.Minute))
	fakeNow.Add(int64(16 * time.Minute))
	send()
	if fake.TokenUpdates() != 2 {
		t.Fatalf("%d tokens after 41 minutes, want a renewal", fake.TokenUpdates())
	}
	// APNs' clock runs ahead: it finds the token over an hour old and
	// answers 403 ExpiredProviderToken; the client renews and resends.
	clientNow.Add(int64(21 * time.Minute))
	fakeNow.Add(int64(70 * time.Minute))
	refused := len(fake.Refused())
	send()
	r := fake.Refused()[refused:]
	if len(r) != 1 || r[0].Reason != "ExpiredProviderToken" || fake.TokenUpdates() != 3 {
		t.Fatalf("refusals %v, %d tokens: want one ExpiredProviderToken, then a renewed token accepted", r, fake.TokenUpdates())
	}
}

// Apple throttles token renewals per connection: a second provider (a
// `courier push test` next to the running workers) with its own fresh
// token is served; one connection renewing within 20 minutes is refused
// 429 TooManyProviderTokenUpdates, which is worth a retry later.
func TestProviderTokenUpdatesPerConnection(t *testing.T) {
	fake := apnstest.New(t)
	token := fake.AddDevice(topic)
	t0 := time.Now()
	first, second := newClient(t, fake), newClient(t, fake)
	apns.SetClock(first, func() time.Time { return t0 })
	apns.SetClock(second, func() time.Time { return t0.Add(5 * time.Minute) })
	for _, c := range []*apns.Client{first, second} {
		if err := c.Send(context.Background(), alert(token)); err != nil {
			t.Fatalf("a provider on its own connection: %v", err)
		}
	}
	if fake.Conns() != 2 || fake.TokenUpdates() != 2 {
		t.Fatalf("%d connections, %d tokens; want 2 and 2", fake.Conns(), fake.TokenUpdates())
	}
	apns.SetClock(first, func() time.Time { return t0.Add(10 * time.Minute) })
	apns.Renew(first)
	err := first.Send(context.Background(), alert(token))
	var pe *courier.PushError
	if !errors.As(err, &pe) || pe.Status != 429 || pe.Reason != "TooManyProviderTokenUpdates" || !pe.Retry {
		t.Fatalf("renewal after 10 minutes on one connection: %v, want a retryable 429 TooManyProviderTokenUpdates", err)
	}
}

func TestResponses(t *testing.T) {
	fake := apnstest.New(t)
	c := newClient(t, fake)
	token := fake.AddDevice(topic)
	gone := fake.AddDevice(topic)
	fake.Unregister(gone)
	for _, tc := range []struct {
		name       string
		script     []apnstest.Reply
		token      string
		reason     string
		tokenGone  bool
		retry      bool
		retryAfter time.Duration
	}{
		{name: "unregistered", token: gone, reason: "Unregistered", tokenGone: true},
		{name: "unknown token", token: strings.Repeat("0", 64), reason: "BadDeviceToken", tokenGone: true},
		{name: "malformed token", token: "xyz", reason: "BadDeviceToken", tokenGone: true},
		{name: "other app's token", token: fake.AddDevice("other.app"), reason: "DeviceTokenNotForTopic", tokenGone: true},
		{name: "expired token", script: []apnstest.Reply{{Status: 410, Reason: "ExpiredToken"}}, reason: "ExpiredToken", tokenGone: true},
		{name: "too many requests", script: []apnstest.Reply{{Status: 429, Reason: "TooManyRequests", RetryAfter: 30}},
			reason: "TooManyRequests", retry: true, retryAfter: 30 * time.Second},
		{name: "unavailable", script: []apnstest.Reply{{Status: 503, Reason: "ServiceUnavailable"}}, reason: "ServiceUnavailable", retry: true},
		{name: "shutdown", script: []apnstest.Reply{{Status: 503, Reason: "Shutdown"}}, reason: "Shutdown", retry: true},
		{name: "internal", script: []apnstest.Reply{{Status: 500, Reason: "InternalServerError"}}, reason: "InternalServerError", retry: true},
		{name: "bad provider key", script: []apnstest.Reply{{Status: 403, Reason: "InvalidProviderToken"}}, reason: "InvalidProviderToken"},
		{name: "too large", script: []apnstest.Reply{{Status: 413, Reason: "PayloadTooLarge"}}, reason: "PayloadTooLarge"},
		{name: "expired provider token twice", script: []apnstest.Reply{{Status: 403, Reason: "ExpiredProviderToken"},
			{Status: 403, Reason: "ExpiredProviderToken"}}, reason: "ExpiredProviderToken", retry: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake.Script(tc.script...)
			n := alert(token)
			if tc.token != "" {
				n.Registration.Token = tc.token
			}
			err := c.Send(context.Background(), n)
			var pe *courier.PushError
			if !errors.As(err, &pe) {
				t.Fatalf("err %v, want a PushError", err)
			}
			if pe.Reason != tc.reason || pe.TokenGone != tc.tokenGone || pe.Retry != tc.retry || pe.RetryAfter != tc.retryAfter {
				t.Fatalf("%+v, want reason %s gone %v retry %v after %v", pe, tc.reason, tc.tokenGone, tc.retry, tc.retryAfter)
			}
		})
	}
	// A payload over 4096 bytes is refused before it is sent.
	n := alert(token)
	n.Sealed = make([]byte, 4000)
	before := len(fake.Refused()) + len(fake.Accepted())
	if err := c.Send(context.Background(), n); err == nil || len(fake.Refused())+len(fake.Accepted()) != before {
		t.Fatalf("oversized payload: %v", err)
	}
}

func TestNewRefusesBadKeys(t *testing.T) {
	fake := apnstest.New(t)
	for _, cfg := range []apns.Config{
		{Key: []byte("not pem"), KeyID: fake.KeyID, TeamID: fake.TeamID},
		{Key: fake.KeyPEM, KeyID: "short", TeamID: fake.TeamID},
		{KeyFile: "/nonexistent.p8", KeyID: fake.KeyID, TeamID: fake.TeamID},
	} {
		if _, err := apns.New(cfg); err == nil {
			t.Errorf("New(%+v) accepted", cfg)
		}
	}
}
