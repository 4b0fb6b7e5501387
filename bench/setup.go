package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/courier-chat/courier"
	"github.com/courier-chat/courier/postgres"
)

// benchAccount is one user with one device, as a bench client holds it.
type benchAccount struct {
	UserID   string `json:"user_id"`
	DeviceID string `json:"device_id"`
	Token    string `json:"token"`
}

// benchSetup creates the accounts and conversations a scenario needs,
// outside the measured part: directly in the database when the bench
// started the node (fast, and the node's memory stays untouched until
// the measurement), over HTTP when it targets a running node (--url).
type benchSetup interface {
	CreateAccount(ctx context.Context, name string) (benchAccount, error)
	CreateDirect(ctx context.Context, a, b benchAccount) (string, error)
	CreateGroup(ctx context.Context, owner benchAccount, memberIDs []string, encrypted bool) (string, error)
	// PutIdentity makes the account's device a recipient of encrypted
	// conversations: it uploads an identity key (and no prekeys).
	PutIdentity(ctx context.Context, a benchAccount, identityKey []byte) error
}

// dbSetup uses the stores on a pool.
type dbSetup struct {
	accounts *postgres.AccountService
	convs    *postgres.ConversationService
	keys     *postgres.KeyStore
}

func newDBSetup(pool *pgxpool.Pool) *dbSetup {
	return &dbSetup{postgres.NewAccountService(pool), postgres.NewConversationService(pool, postgres.ConversationConfig{}),
		postgres.NewKeyStore(pool)}
}

func (s *dbSetup) CreateAccount(ctx context.Context, name string) (benchAccount, error) {
	u, d, token, err := s.accounts.CreateAccount(ctx, name, "bench")
	if err != nil {
		return benchAccount{}, err
	}
	return benchAccount{UserID: u.ID, DeviceID: d.ID, Token: token}, nil
}

func (s *dbSetup) CreateDirect(ctx context.Context, a, b benchAccount) (string, error) {
	c, err := s.convs.CreateDirect(ctx, a.UserID, b.UserID)
	if err != nil {
		return "", err
	}
	return c.ID, nil
}

func (s *dbSetup) CreateGroup(ctx context.Context, owner benchAccount, memberIDs []string, encrypted bool) (string, error) {
	c, err := s.convs.Create(ctx, owner.UserID, courier.NewConversation{Kind: courier.ConversationGroup, Name: "bench",
		Members: memberIDs, Encrypted: encrypted})
	if err != nil {
		return "", err
	}
	return c.ID, nil
}

func (s *dbSetup) PutIdentity(ctx context.Context, a benchAccount, identityKey []byte) error {
	_, _, err := s.keys.PutKeys(ctx, &courier.Device{ID: a.DeviceID, UserID: a.UserID}, courier.KeyUpload{IdentityKey: identityKey})
	return err
}

// httpSetup uses the public API of a running node.
type httpSetup struct {
	url, adminSecret string
	client           *http.Client
}

func newHTTPSetup(url, adminSecret string) *httpSetup {
	return &httpSetup{url: url, adminSecret: adminSecret,
		client: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}}
}

func (s *httpSetup) post(ctx context.Context, path, token string, in, out any) error {
	return s.do(ctx, http.MethodPost, path, token, in, out)
}

func (s *httpSetup) do(ctx context.Context, method, path, token string, in, out any) error {
	body, _ := json.Marshal(in)
	req, err := http.NewRequestWithContext(ctx, method, s.url+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if s.adminSecret != "" {
		req.Header.Set("X-Courier-Admin-Secret", s.adminSecret)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, b)
	}
	return json.Unmarshal(b, out)
}

func (s *httpSetup) CreateAccount(ctx context.Context, name string) (benchAccount, error) {
	var a benchAccount
	err := s.post(ctx, "/v1/accounts", "", map[string]string{"name": name, "device_name": "bench"}, &a)
	return a, err
}

func (s *httpSetup) CreateDirect(ctx context.Context, a, b benchAccount) (string, error) {
	var c courier.Conversation
	err := s.post(ctx, "/v1/conversations", a.Token, map[string]any{"kind": "direct", "user_id": b.UserID}, &c)
	return c.ID, err
}

func (s *httpSetup) CreateGroup(ctx context.Context, owner benchAccount, memberIDs []string, encrypted bool) (string, error) {
	var c courier.Conversation
	err := s.post(ctx, "/v1/conversations", owner.Token,
		courier.NewConversation{Kind: courier.ConversationGroup, Name: "bench", Members: memberIDs, Encrypted: encrypted}, &c)
	return c.ID, err
}

func (s *httpSetup) PutIdentity(ctx context.Context, a benchAccount, identityKey []byte) error {
	var counts json.RawMessage
	return s.do(ctx, http.MethodPut, "/v1/keys", a.Token, courier.KeyUpload{IdentityKey: identityKey}, &counts)
}

// benchParallel runs f(i) for i in [0, n) on workers goroutines and returns the
// first error.
func benchParallel(ctx context.Context, n, workers int, f func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
		next  = make(chan int)
	)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := f(ctx, i); err != nil {
					mu.Lock()
					if first == nil {
						first = err
						cancel()
					}
					mu.Unlock()
				}
			}
		}()
	}
	for i := 0; i < n && ctx.Err() == nil; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
	if first == nil {
		first = ctx.Err()
	}
	return first
}

// createAccounts makes n accounts named prefix-i.
func createAccounts(ctx context.Context, s benchSetup, prefix string, n int) ([]benchAccount, error) {
	out := make([]benchAccount, n)
	err := benchParallel(ctx, n, 16, func(ctx context.Context, i int) (err error) {
		out[i], err = s.CreateAccount(ctx, fmt.Sprintf("%s-%d", prefix, i))
		return err
	})
	return out, err
}
