package client_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/courier-chat/courier"
	"github.com/courier-chat/courier/client"
	"github.com/courier-chat/courier/internal/clienttest"
	"github.com/courier-chat/courier/internal/testserver"
)

// encrypting turns on end-to-end encryption in a test device's client.
func encrypting(c *client.Config) { c.Encryption = true }

// e2eAccount registers a user whose first device encrypts, started and
// online (so its keys are in the directory).
func e2eAccount(t *testing.T, url, name string) *clienttest.Device {
	t.Helper()
	acct, err := client.Register(context.Background(), url, name, "phone")
	if err != nil {
		t.Fatal(err)
	}
	d := clienttest.OpenWith(t, acct, t.TempDir(), encrypting)
	d.Start()
	d.WaitOnline()
	return d
}

// e2eDevice adds a device to d's user on url, started and online.
func e2eDevice(t *testing.T, d *clienttest.Device, url string) *clienttest.Device {
	t.Helper()
	acct, err := client.AddDevice(context.Background(), d.Acct, "tablet")
	if err != nil {
		t.Fatal(err)
	}
	acct.URL = url
	n := clienttest.OpenWith(t, acct, t.TempDir(), encrypting)
	n.Start()
	n.WaitOnline()
	return n
}

// hasText reports whether the store holds a readable message with body.
func hasText(body string) func([]client.Message) bool {
	return func(ms []client.Message) bool {
		for _, m := range ms {
			if !m.Locked && bytes.Equal(m.Body, []byte(body)) {
				return true
			}
		}
		return false
	}
}

// e2eDirect starts a server with Alice and Bob, each with one encrypting
// device online, and an encrypted direct conversation Alice created.
func e2eDirect(t *testing.T) (srv *testserver.Cluster, alice, bob *clienttest.Device, conv *client.Conversation) {
	t.Helper()
	srv = startServer(t)
	alice, bob = e2eAccount(t, srv.URL(), "alice"), e2eAccount(t, srv.URL(), "bob")
	conv, err := alice.Create(context.Background(), courier.NewConversation{Kind: courier.ConversationDirect, UserID: bob.Acct.UserID, Encrypted: true})
	if err != nil || !conv.Encrypted {
		t.Fatalf("%+v %v", conv, err)
	}
	return srv, alice, bob, conv
}

func TestE2E_Direct(t *testing.T) {
	ctx := context.Background()
	_, alice, bob, conv := e2eDirect(t)
	alice.Send(ctx, conv.ID, []byte("hello bob"))
	bob.WaitMessages(conv.ID, "bob reads", hasText("hello bob"))
	bob.Send(ctx, conv.ID, []byte("hello alice"))
	alice.WaitMessages(conv.ID, "alice reads", hasText("hello alice"))
}
