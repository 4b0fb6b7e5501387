// Package apns sends notifications through the Apple Push Notification
// service's HTTP/2 provider API with token authentication. It is written
// on net/http (which speaks HTTP/2 over TLS by itself) and crypto/ecdsa:
// the API is one POST per notification, and the parts a library would add
// (a JWT package, its own HTTP/2 setup) are the parts Courier needs to
// control — when the token is refreshed, and how each answer is handled.
package apns

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/courier-chat/courier"
)

var _ courier.PushSender = (*Client)(nil)

// Apple's hosts (port 443; 2197 is the documented alternative).
const (
	ProductionURL = "https://api.push.apple.com"
	SandboxURL    = "https://api.sandbox.push.apple.com"
)

// MaxPayload is APNs' limit for a notification's JSON (VoIP allows 5120).
const MaxPayload = 4096

// Config says how to reach APNs.
type Config struct {
	// KeyFile is the .p8 auth key's path; Key its contents (one of them).
	KeyFile string
	Key     []byte
	// KeyID is the 10-character key ID, TeamID the developer team ID.
	KeyID  string
	TeamID string
	// ProductionURL and SandboxURL default to Apple's hosts; tests point
	// them at a fake.
	ProductionURL string
	SandboxURL    string
	// RootCAs, when set, replaces the system roots (a fake's certificate).
	RootCAs *x509.CertPool
	// Timeout bounds one request. Default 15 s.
	Timeout time.Duration
}

// Client sends notifications over one HTTP/2 connection per host, reused
// for every request (Apple asks providers to keep connections open rather
// than connect per notification).
type Client struct {
	cfg    Config
	signer *tokenSigner
	http   *http.Client
}

// New checks cfg and loads the key.
func New(cfg Config) (*Client, error) {
	if cfg.KeyFile != "" {
		b, err := os.ReadFile(cfg.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("apns: %w", err)
		}
		cfg.Key = b
	}
	key, err := ParseKey(cfg.Key)
	if err != nil {
		return nil, err
	}
	if len(cfg.KeyID) != 10 || len(cfg.TeamID) != 10 {
		return nil, errors.New("apns: key ID and team ID are 10 characters each")
	}
	if cfg.ProductionURL == "" {
		cfg.ProductionURL = ProductionURL
	}
	if cfg.SandboxURL == "" {
		cfg.SandboxURL = SandboxURL
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 15 * time.Second
	}
	return &Client{
		cfg:    cfg,
		signer: &tokenSigner{key: key, keyID: cfg.KeyID, teamID: cfg.TeamID, now: time.Now},
		http:   HTTPClient(cfg.RootCAs, cfg.Timeout),
	}, nil
}

// HTTPClient is an HTTP/2-over-TLS client for a push service: its
// connections stay open for an hour idle (push services keep them far
// longer than Go's default 90 s, and reconnecting per burst costs a TLS
// handshake each time). roots nil means the system roots. FCM's client is
// built by it too.
func HTTPClient(roots *x509.CertPool, timeout time.Duration) *http.Client {
	tr := &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12},
		ForceAttemptHTTP2: true,
		IdleConnTimeout:   time.Hour,
	}
	return &http.Client{Transport: tr, Timeout: timeout}
}

// Close drops the idle connections.
func (c *Client) Close() { c.http.CloseIdleConnections() }

// Send posts n to its device. An expired provider token is renewed and the
// request sent once more; every other refusal is a *courier.PushError.
func (c *Client) Send(ctx context.Context, n *courier.Notification) error {
	r := n.Registration
	if r == nil || r.Service != courier.PushAPNs {
		return errors.New("apns: not an APNs registration")
	}
	body, err := Payload(n)
	if err != nil {
		return err
	}
	host := c.cfg.ProductionURL
	if r.Environment == courier.PushSandbox {
		host = c.cfg.SandboxURL
	}
	token, err := c.signer.token()
	if err != nil {
		return err
	}
	perr := c.post(ctx, host, token, n, body)
	if perr != nil && perr.Reason == "ExpiredProviderToken" {
		if token, err = c.signer.expired(token); err != nil {
			return err
		}
		perr = c.post(ctx, host, token, n, body)
	}
	if perr != nil {
		return perr
	}
	return nil
}

// post sends one request and classifies the answer.
func (c *Client) post(ctx context.Context, host, token string, n *courier.Notification, body []byte) *courier.PushError {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, host+"/3/device/"+n.Registration.Token, bytes.NewReader(body))
	if err != nil {
		return &courier.PushError{Service: courier.PushAPNs, Reason: "bad request: " + err.Error()}
	}
	h := req.Header
	h.Set("authorization", "bearer "+token)
	h.Set("content-type", "application/json")
	h.Set("apns-topic", n.Registration.Topic)
	pushType, priority := "alert", "10"
	if n.Kind == courier.PushSilent {
		// Apple: background pushes must be priority 5.
		pushType, priority = "background", "5"
	}
	h.Set("apns-push-type", pushType)
	h.Set("apns-priority", priority)
	exp := "0" // try once, store nothing
	if !n.Expiration.IsZero() {
		exp = strconv.FormatInt(n.Expiration.Unix(), 10)
	}
	h.Set("apns-expiration", exp)
	if n.CollapseID != "" {
		h.Set("apns-collapse-id", n.CollapseID)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return &courier.PushError{Service: courier.PushAPNs, Reason: "transport", Retry: ctx.Err() == nil}
	}
	defer resp.Body.Close()
	var answer struct {
		Reason    string `json:"reason"`
		Timestamp int64  `json:"timestamp"`
	}
	json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&answer)
	if resp.StatusCode == http.StatusOK {
		return nil
	}
	return classify(resp, answer.Reason)
}

// classify maps an APNs refusal (Apple's "Handling notification responses
// from APNs") to what Courier does about it.
func classify(resp *http.Response, reason string) *courier.PushError {
	e := &courier.PushError{Service: courier.PushAPNs, Status: resp.StatusCode, Reason: reason}
	if e.Reason == "" {
		e.Reason = http.StatusText(resp.StatusCode)
	}
	switch s := resp.StatusCode; {
	case s == http.StatusGone: // Unregistered, ExpiredToken
		e.TokenGone = true
	case s == http.StatusBadRequest && (reason == "BadDeviceToken" || reason == "DeviceTokenNotForTopic"):
		// A token of the other environment, or of another app: it will
		// never work as registered.
		e.TokenGone = true
	case s == http.StatusTooManyRequests, s >= 500:
		// TooManyRequests (one device pushed too fast),
		// TooManyProviderTokenUpdates, InternalServerError,
		// ServiceUnavailable, Shutdown: later.
		e.Retry = true
		if secs, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && secs > 0 {
			e.RetryAfter = time.Duration(secs) * time.Second
		}
	case s == http.StatusForbidden && reason == "ExpiredProviderToken":
		// Renewed and refused again: our clock or Apple's is off; later.
		e.Retry = true
	}
	// Everything else (bad topic, payload too large, invalid provider
	// token, a bad path) is a mistake that retrying repeats.
	return e
}
