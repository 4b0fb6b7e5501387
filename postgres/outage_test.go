package postgres_test

import (
	"context"
	"net/url"
	"testing"

	"github.com/courier-chat/courier"
	"github.com/courier-chat/courier/internal/faultnet"
	"github.com/courier-chat/courier/internal/testenv"
	"github.com/courier-chat/courier/postgres"
)

// TestOutageIsUnavailable: with the database unreachable (connections
// dropped, new ones refused), stores answer unavailable with a Retry-After,
// not an internal error; a query the database refuses stays what it was;
// once the database is back the same pool works again.
func TestOutageIsUnavailable(t *testing.T) {
	db := testenv.NewDB(t)
	u, err := url.Parse(db.URL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := faultnet.Listen(t, u.Host)
	u.Host = proxy.Addr()
	ctx := context.Background()
	pool, err := postgres.Open(ctx, postgres.Config{URL: u.String(), Schema: db.Schema, MaxConns: 4})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	accounts := postgres.NewAccountService(pool)
	convs := postgres.NewConversationService(pool, postgres.ConversationConfig{})
	user, dev, token, err := accounts.CreateAccount(ctx, "alice", "phone")
	if err != nil {
		t.Fatal(err)
	}

	proxy.Cut()
	for name, call := range map[string]func() error{
		"authenticate": func() error { _, err := accounts.Authenticate(ctx, token); return err },
		"heads":        func() error { _, err := convs.Heads(ctx, user.ID); return err },
		"devices":      func() error { _, err := accounts.Devices(ctx, user.ID); return err },
	} {
		err := call()
		if courier.ErrorCode(err) != courier.EUNAVAILABLE || courier.ErrorRetryAfter(err) <= 0 {
			t.Errorf("%s during an outage: %v, want %s with a retry time", name, err, courier.EUNAVAILABLE)
		}
	}

	proxy.Restore()
	if got, err := accounts.Authenticate(ctx, token); err != nil || got.ID != dev.ID {
		t.Fatalf("after the outage: %v %v", got, err)
	}
	// A refusal by a working database keeps its own code.
	if _, err := accounts.Authenticate(ctx, "no-such-token"); courier.ErrorCode(err) != courier.EUNAUTHORIZED {
		t.Fatalf("bad token: %v, want %s", err, courier.EUNAUTHORIZED)
	}
}
