// Package fcm sends notifications through Firebase Cloud Messaging's HTTP
// v1 API (projects.messages.send), authenticated as a service account with
// OAuth 2.0's JWT bearer grant. The grant and the token cache come from
// golang.org/x/oauth2/jwt (the Go team's, already in Courier's module
// graph); the send is one JSON POST on net/http. Firebase's Admin SDK
// would bring gRPC and Google's API client for that one call.
package fcm

import (
	"bytes"
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/jwt"

	"github.com/courier-chat/courier"
	"github.com/courier-chat/courier/apns"
)

var _ courier.PushSender = (*Client)(nil)

// URL is FCM's endpoint; Scope the OAuth scope sending needs.
const (
	URL   = "https://fcm.googleapis.com"
	Scope = "https://www.googleapis.com/auth/firebase.messaging"
)

// Config says how to reach FCM.
type Config struct {
	// CredentialsFile is the service-account JSON's path; Credentials its
	// contents (one of them). Its token_uri is where tokens are fetched.
	CredentialsFile string
	Credentials     []byte
	// URL defaults to FCM's; tests point it at a fake.
	URL string
	// RootCAs, when set, replaces the system roots (a fake's certificate).
	RootCAs *x509.CertPool
	// Timeout bounds one request. Default 15 s.
	Timeout time.Duration
}

// serviceAccount is the part of a service-account key file the JWT bearer
// grant needs.
type serviceAccount struct {
	Type         string `json:"type"`
	ProjectID    string `json:"project_id"`
	PrivateKeyID string `json:"private_key_id"`
	PrivateKey   string `json:"private_key"`
	ClientEmail  string `json:"client_email"`
	TokenURI     string `json:"token_uri"`
}

// Client sends to one Firebase project over reused HTTP/2 connections.
type Client struct {
	cfg     Config
	project string
	jwt     *jwt.Config
	http    *http.Client

	mu     sync.Mutex
	tokens oauth2.TokenSource // cached access tokens, renewed before expiry
}

// New reads the service account and checks cfg.
func New(cfg Config) (*Client, error) {
	if cfg.CredentialsFile != "" {
		b, err := os.ReadFile(cfg.CredentialsFile)
		if err != nil {
			return nil, fmt.Errorf("fcm: %w", err)
		}
		cfg.Credentials = b
	}
	var sa serviceAccount
	if err := json.Unmarshal(cfg.Credentials, &sa); err != nil {
		return nil, fmt.Errorf("fcm: credentials are not a service-account JSON: %w", err)
	}
	if sa.Type != "service_account" || sa.ProjectID == "" || sa.ClientEmail == "" || sa.PrivateKey == "" || sa.TokenURI == "" {
		return nil, errors.New("fcm: credentials need type service_account, project_id, client_email, private_key and token_uri")
	}
	if cfg.URL == "" {
		cfg.URL = URL
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 15 * time.Second
	}
	c := &Client{cfg: cfg, project: sa.ProjectID, http: apns.HTTPClient(cfg.RootCAs, cfg.Timeout),
		jwt: &jwt.Config{Email: sa.ClientEmail, PrivateKey: []byte(sa.PrivateKey), PrivateKeyID: sa.PrivateKeyID,
			Scopes: []string{Scope}, TokenURL: sa.TokenURI}}
	// A bad key is found now, not at the first push.
	if err := checkKey([]byte(sa.PrivateKey)); err != nil {
		return nil, err
	}
	c.tokens = c.newTokenSource()
	return c, nil
}

// checkKey checks the service account's key is an RSA key in PEM, as the
// RS256 assertion needs.
func checkKey(p []byte) error {
	block, _ := pem.Decode(p)
	if block == nil {
		return errors.New("fcm: private_key is not PEM")
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		k, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	}
	if _, ok := k.(*rsa.PrivateKey); err != nil || !ok {
		return errors.New("fcm: private_key is not an RSA key")
	}
	return nil
}

func (c *Client) newTokenSource() oauth2.TokenSource {
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, c.http)
	return c.jwt.TokenSource(ctx) // a ReuseTokenSource: one grant per hour
}

// Close drops the idle connections.
func (c *Client) Close() { c.http.CloseIdleConnections() }

func (c *Client) token() (oauth2.TokenSource, *oauth2.Token, error) {
	c.mu.Lock()
	src := c.tokens
	c.mu.Unlock()
	t, err := src.Token()
	return src, t, err
}

// Send posts n. A 401 (the access token was revoked or expired early)
// fetches a new token and sends once more.
func (c *Client) Send(ctx context.Context, n *courier.Notification) error {
	if n.Registration == nil || n.Registration.Service != courier.PushFCM {
		return errors.New("fcm: not an FCM registration")
	}
	body, err := Message(n)
	if err != nil {
		return err
	}
	src, tok, err := c.token()
	if err != nil {
		return &courier.PushError{Service: courier.PushFCM, Reason: "oauth: " + err.Error(), Retry: true}
	}
	perr := c.post(ctx, tok, body)
	if perr != nil && perr.Status == http.StatusUnauthorized && perr.Reason == "UNAUTHENTICATED" {
		c.mu.Lock()
		if c.tokens == src {
			c.tokens = c.newTokenSource()
		}
		c.mu.Unlock()
		if _, tok, err = c.token(); err != nil {
			return &courier.PushError{Service: courier.PushFCM, Reason: "oauth: " + err.Error(), Retry: true}
		}
		perr = c.post(ctx, tok, body)
	}
	if perr != nil {
		return perr
	}
	return nil
}

func (c *Client) post(ctx context.Context, tok *oauth2.Token, body []byte) *courier.PushError {
	url := c.cfg.URL + "/v1/projects/" + c.project + "/messages:send"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return &courier.PushError{Service: courier.PushFCM, Reason: "bad request: " + err.Error()}
	}
	req.Header.Set("Content-Type", "application/json")
	tok.SetAuthHeader(req)
	resp, err := c.http.Do(req)
	if err != nil {
		return &courier.PushError{Service: courier.PushFCM, Reason: "transport", Retry: ctx.Err() == nil}
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode == http.StatusOK {
		return nil
	}
	return classify(resp, raw)
}

// classify maps an FCM error ("FCM error codes": the FcmError errorCode
// in details, else the Google API status) to what Courier does.
func classify(resp *http.Response, raw []byte) *courier.PushError {
	var answer struct {
		Error struct {
			Status  string `json:"status"`
			Details []struct {
				Type      string `json:"@type"`
				ErrorCode string `json:"errorCode"`
			} `json:"details"`
		} `json:"error"`
	}
	json.Unmarshal(raw, &answer)
	e := &courier.PushError{Service: courier.PushFCM, Status: resp.StatusCode, Reason: answer.Error.Status}
	for _, d := range answer.Error.Details {
		if d.Type == "type.googleapis.com/google.firebase.fcm.v1.FcmError" && d.ErrorCode != "" {
			e.Reason = d.ErrorCode
		}
	}
	if e.Reason == "" {
		e.Reason = http.StatusText(resp.StatusCode)
	}
	switch e.Reason {
	case "UNREGISTERED", "SENDER_ID_MISMATCH":
		// The app was removed, or the token belongs to another project.
		e.TokenGone = true
	case "QUOTA_EXCEEDED", "UNAVAILABLE", "INTERNAL":
		e.Retry = true
	default:
		e.Retry = resp.StatusCode >= 500
	}
	if secs, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && secs > 0 && e.Retry {
		e.RetryAfter = time.Duration(secs) * time.Second
	}
	return e
}

// Message is the JSON body of n for projects.messages.send: the sealed
// preview as data (an Android app decrypts it and shows its own
// notification), the same APNs payload and headers as the apns package
// sends for an iOS app registered through Firebase, and the collapse key.
func Message(n *courier.Notification) ([]byte, error) {
	data := map[string]string{"v": strconv.Itoa(courier.PushPreviewVersion), "kind": string(n.Kind)}
	if len(n.Sealed) > 0 {
		b, _ := json.Marshal(n.Sealed) // base64 in a JSON string
		data[courier.PushSealedKey] = string(b[1 : len(b)-1])
	}
	apnsPayload, err := apns.Payload(n)
	if err != nil {
		return nil, err
	}
	ttl := int64(0)
	if !n.Expiration.IsZero() {
		ttl = max(0, int64(time.Until(n.Expiration).Seconds()))
	}
	android := map[string]any{"priority": "HIGH", "ttl": strconv.FormatInt(ttl, 10) + "s"}
	apnsHeaders := map[string]string{"apns-push-type": "alert", "apns-priority": "10",
		"apns-expiration": strconv.FormatInt(max(0, n.Expiration.Unix()), 10)}
	if n.Kind == courier.PushSilent {
		android["priority"] = "NORMAL"
		apnsHeaders["apns-push-type"], apnsHeaders["apns-priority"] = "background", "5"
	}
	if n.CollapseID != "" {
		android["collapse_key"] = n.CollapseID
		apnsHeaders["apns-collapse-id"] = n.CollapseID
	}
	msg := map[string]any{"message": map[string]any{
		"token":   n.Registration.Token,
		"data":    data,
		"android": android,
		"apns":    map[string]any{"headers": apnsHeaders, "payload": json.RawMessage(apnsPayload)},
	}}
	return json.Marshal(msg)
}
