package postgres_test

import (
	"context"
	"testing"

	"github.com/courier-chat/courier"
	"github.com/courier-chat/courier/internal/testenv"
	"github.com/courier-chat/courier/postgres"
)

// env is one test's database with the messaging stores over it.
type env struct {
	db    *testenv.DB
	convs *postgres.ConversationService
	msgs  *postgres.MessageStore
	blobs *postgres.BlobStore
}

func newEnv(t testing.TB, cc postgres.ConversationConfig, mc postgres.MessageConfig) *env {
	t.Helper()
	db := testenv.NewDB(t)
	e := &env{db: db, convs: postgres.NewConversationService(db.Pool, cc),
		msgs: postgres.NewMessageStore(db.Pool, mc), blobs: postgres.NewBlobStore(db.Pool)}
	t.Cleanup(func() { e.msgs.Close() })
	return e
}

// users creates n accounts and returns their first devices.
func (e *env) users(t testing.TB, n int) []*courier.Device {
	t.Helper()
	accounts := postgres.NewAccountService(e.db.Pool)
	out := make([]*courier.Device, n)
	for i := range out {
		_, d, _, err := accounts.CreateAccount(context.Background(), "user", "phone")
		if err != nil {
			t.Fatal(err)
		}
		out[i] = d
	}
	return out
}

func (e *env) group(t testing.TB, admin *courier.Device, members ...*courier.Device) *courier.Conversation {
	t.Helper()
	ids := make([]string, len(members))
	for i, m := range members {
		ids[i] = m.UserID
	}
	c, err := e.convs.CreateGroup(context.Background(), admin.UserID, "group", ids)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (e *env) send(t testing.TB, from *courier.Device, convID string, atts ...string) *courier.Message {
	t.Helper()
	m, created, err := e.msgs.Send(context.Background(), from, courier.SendRequest{
		ConversationID: convID, ClientID: courier.NewID(), Body: []byte("hello"), Attachments: atts})
	if err != nil {
		t.Fatal(err)
	} else if !created {
		t.Fatal("a new client ID was reported as a resend")
	}
	return m
}

// wantCode fails t unless err carries code ("" for no error).
func wantCode(t testing.TB, err error, code string) {
	t.Helper()
	if got := courier.ErrorCode(err); got != code {
		t.Fatalf("error code %q, want %q (err: %v)", got, code, err)
	}
}
