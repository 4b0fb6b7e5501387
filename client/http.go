package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/courier-chat/courier"
)

// api calls the JSON HTTP API (docs/protocol-http.md) with a device token.
type api struct {
	url   string
	token string
	hc    *http.Client
}

// do sends a JSON request and decodes a JSON answer into out. An error
// answer comes back as a *courier.Error with the server's code, and a
// network failure as courier.Unavailable: the caller retries both alike.
func (a *api) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(a.url, "/")+path, body)
	if err != nil {
		return err
	}
	if a.token != "" {
		req.Header.Set("Authorization", "Bearer "+a.token)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := a.hc.Do(req)
	if err != nil {
		return courier.Unavailable("server", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		return responseError(resp)
	}
	if out == nil {
		io.Copy(io.Discard, resp.Body)
		return nil
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

// responseError reads an error body {"error":{"code","message"}}.
func responseError(resp *http.Response) error {
	var e struct {
		Error struct {
			Code, Message string
			*courier.DeviceMismatch
		} `json:"error"`
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	json.Unmarshal(b, &e)
	if e.Error.Code == "" {
		e.Error.Code, e.Error.Message = courier.EINTERNAL, fmt.Sprintf("%s: %.200s", resp.Status, b)
	}
	ce := &courier.Error{Code: e.Error.Code, Message: e.Error.Message, Devices: e.Error.DeviceMismatch}
	if s := resp.Header.Get("Retry-After"); s != "" {
		var sec int
		fmt.Sscan(s, &sec)
		ce.RetryAfter = time.Duration(sec) * time.Second
	}
	return ce
}

// Register creates an account with a first device on the server at url
// (open sign-up, as `courier dev` allows) and returns it.
func Register(ctx context.Context, url, name, deviceName string) (Account, error) {
	a := &api{url: url, hc: http.DefaultClient}
	var acct Account
	err := a.do(ctx, http.MethodPost, "/v1/accounts", map[string]string{"name": name, "device_name": deviceName}, &acct)
	acct.URL = url
	return acct, err
}

// AddDevice creates another device for the account's user.
func AddDevice(ctx context.Context, acct Account, name string) (Account, error) {
	a := &api{url: acct.URL, token: acct.Token, hc: http.DefaultClient}
	var d Account
	err := a.do(ctx, http.MethodPost, "/v1/devices", map[string]string{"name": name}, &d)
	d.URL, d.UserID = acct.URL, acct.UserID
	return d, err
}

// CreateDirect returns the direct conversation with userID (creating it
// the first time) and saves it in the store.
func (c *Client) CreateDirect(ctx context.Context, userID string) (*Conversation, error) {
	return c.createConversation(ctx, map[string]any{"kind": "direct", "user_id": userID})
}

// CreateGroup creates a group with the given members and saves it.
func (c *Client) CreateGroup(ctx context.Context, name string, memberIDs []string) (*Conversation, error) {
	return c.createConversation(ctx, map[string]any{"kind": "group", "name": name, "members": memberIDs})
}

// Create creates a conversation as nc says: CreateDirect or CreateGroup,
// either of them end-to-end encrypted (nc.Encrypted; the client must run
// with Config.Encryption to send and read in it).
func (c *Client) Create(ctx context.Context, nc courier.NewConversation) (*Conversation, error) {
	return c.createConversation(ctx, nc)
}

func (c *Client) createConversation(ctx context.Context, req any) (*Conversation, error) {
	var conv courier.Conversation
	if err := c.api.do(ctx, http.MethodPost, "/v1/conversations", req, &conv); err != nil {
		return nil, err
	}
	if err := c.store.tx(ctx, func(tx *sqlTx) error { return saveConversation(ctx, tx, &conv) }); err != nil {
		return nil, err
	}
	return c.store.Conversation(ctx, c.acct.UserID, conv.ID)
}

// refreshConversation fetches a conversation's details and members with
// their watermarks and saves them.
func (c *Client) refreshConversation(ctx context.Context, id string) error {
	var conv courier.Conversation
	err := c.api.do(ctx, http.MethodGet, "/v1/conversations/"+id, nil, &conv)
	if courier.ErrorCode(err) == courier.ENOTFOUND {
		// Removed from it: keep the history, stop asking.
		_, err = c.store.exec(ctx, `UPDATE conversations SET known = 1 WHERE id = ?`, id)
		return err
	} else if err != nil {
		return err
	}
	return c.store.tx(ctx, func(tx *sqlTx) error { return saveConversation(ctx, tx, &conv) })
}

// RevokeDevice revokes one of the user's devices (a lost phone): its
// sockets close with 4001 and its token stops working.
func (c *Client) RevokeDevice(ctx context.Context, deviceID string) error {
	return c.api.do(ctx, http.MethodDelete, "/v1/devices/"+deviceID, nil, nil)
}
