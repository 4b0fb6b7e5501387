package client_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/courier-chat/courier/client"
	"github.com/courier-chat/courier/internal/testserver"
)

// device is a Client on its own store, with every event it emitted kept
// for the test to wait on.
type device struct {
	*client.Client
	t     *testing.T
	store *client.Store
	acct  client.Account
	dir   string

	mu     sync.Mutex
	events []client.Event
	signal chan struct{}
}

// newAccount registers a user on the server and opens a store for its
// first device.
func newAccount(t *testing.T, url, name string) *device {
	t.Helper()
	acct, err := client.Register(context.Background(), url, name, "phone")
	if err != nil {
		t.Fatalf("register %s: %v", name, err)
	}
	return openDevice(t, acct, t.TempDir())
}

// openDevice opens (or reopens) the store in dir for acct and a client on
// it, not started.
func openDevice(t *testing.T, acct client.Account, dir string) *device {
	t.Helper()
	st, err := client.OpenStore(filepath.Join(dir, "store.db"))
	if err != nil {
		t.Fatal(err)
	}
	if err := st.SaveAccount(context.Background(), acct); err != nil {
		t.Fatal(err)
	}
	c, err := client.New(client.Config{Store: st, MinBackoff: 50 * time.Millisecond, MaxBackoff: time.Second,
		MediaDir: filepath.Join(dir, "media"), DeliveredDelay: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	d := &device{Client: c, t: t, store: st, acct: acct, dir: dir, signal: make(chan struct{}, 1)}
	go func() {
		for e := range c.Events() {
			d.mu.Lock()
			d.events = append(d.events, e)
			d.mu.Unlock()
			select {
			case d.signal <- struct{}{}:
			default:
			}
		}
	}()
	t.Cleanup(func() { c.Close(); st.Close() })
	return d
}

// waitEvent waits until an event matching ok was emitted (at any time
// since the device opened) and returns it.
func waitEvent[E client.Event](d *device, what string, ok func(E) bool) E {
	d.t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		d.mu.Lock()
		for _, e := range d.events {
			if e, is := e.(E); is && ok(e) {
				d.mu.Unlock()
				return e
			}
		}
		d.mu.Unlock()
		select {
		case <-d.signal:
		case <-time.After(50 * time.Millisecond):
		case <-deadline:
			d.t.Fatalf("%s: no event %s in 20 s", d.acct.UserID, what)
		}
	}
}

// waitOnline starts the device if needed and waits until it is online.
func (d *device) waitOnline() {
	d.t.Helper()
	waitEvent(d, "online", func(e client.ConnectionEvent) bool { return e.State == client.Online })
}

// messages returns the conversation's newest messages from the store.
func (d *device) messages(conv string) []client.Message {
	d.t.Helper()
	ms, err := d.store.Messages(context.Background(), d.acct.UserID, conv, 0, 1000)
	if err != nil {
		d.t.Fatal(err)
	}
	return ms
}

// waitMessages polls the store until check passes on the conversation.
func (d *device) waitMessages(conv, what string, check func([]client.Message) bool) []client.Message {
	d.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ms := d.messages(conv)
		if check(ms) {
			return ms
		}
		if time.Now().After(deadline) {
			d.t.Fatalf("%s: %s not reached; store has %s", d.acct.UserID, what, describe(ms))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// describe prints messages briefly for failure messages.
func describe(ms []client.Message) string {
	var out []string
	for _, m := range ms {
		out = append(out, fmt.Sprintf("%d:%q:%s", m.Seq, m.Body, m.State))
	}
	if len(out) > 20 {
		out = append(out[:10], append([]string{"…"}, out[len(out)-10:]...)...)
	}
	return fmt.Sprint(out)
}

// states returns the states of the messages, in order.
func states(ms []client.Message) []client.MessageState {
	var s []client.MessageState
	for _, m := range ms {
		s = append(s, m.State)
	}
	return s
}

// allIn reports whether every message is in state s.
func allIn(s client.MessageState) func([]client.Message) bool {
	return func(ms []client.Message) bool {
		return len(ms) > 0 && !slices.ContainsFunc(ms, func(m client.Message) bool { return m.State != s })
	}
}

// startServer starts one Courier node for a test.
func startServer(t *testing.T) *testserver.Cluster {
	return testserver.Start(t, testserver.Options{MessageRate: 1000})
}
