// Package clienttest drives Courier through the client SDK in tests:
// devices with their own store whose events are kept to wait on. The
// client package's tests and the conformance suite share it.
package clienttest

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/courier-chat/courier/client"
)

// Device is a Client on its own store, with every event it emitted kept
// for the test to wait on.
type Device struct {
	*client.Client
	t    testing.TB
	Acct client.Account
	Dir  string // the store's folder

	mu     sync.Mutex
	events []client.Event
	signal chan struct{}
}

// NewAccount registers a user on the server and opens a store for its
// first device.
func NewAccount(t testing.TB, url, name string) *Device {
	t.Helper()
	acct, err := client.Register(context.Background(), url, name, "phone")
	if err != nil {
		t.Fatalf("register %s: %v", name, err)
	}
	return Open(t, acct, t.TempDir())
}

// Open opens (or reopens) the store in dir for acct and a client on
// it, not started.
func Open(t testing.TB, acct client.Account, dir string) *Device {
	t.Helper()
	return OpenWith(t, acct, dir, nil)
}

// OpenWith is Open with the client's Config changed by tune first (to
// turn on Encryption, say).
func OpenWith(t testing.TB, acct client.Account, dir string, tune func(*client.Config)) *Device {
	t.Helper()
	st, err := client.OpenStore(filepath.Join(dir, "store.db"))
	if err != nil {
		t.Fatal(err)
	}
	if err := st.SaveAccount(context.Background(), acct); err != nil {
		t.Fatal(err)
	}
	cfg := client.Config{Store: st, MinBackoff: 50 * time.Millisecond, MaxBackoff: time.Second,
		MediaDir: filepath.Join(dir, "media"), DeliveredDelay: 20 * time.Millisecond}
	if tune != nil {
		tune(&cfg)
	}
	c, err := client.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	d := &Device{Client: c, t: t, Acct: acct, Dir: dir, signal: make(chan struct{}, 1)}
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
	t.Cleanup(func() {
		c.Close()
		st.Close()
	})
	return d
}

// WaitEvent waits until an event matching ok was emitted (at any time
// since the device opened) and returns it.
func WaitEvent[E client.Event](d *Device, what string, ok func(E) bool) E {
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
			d.t.Fatalf("%s: no event %s in 20 s", d.Acct.UserID, what)
		}
	}
}

// Seen returns the events emitted so far.
func (d *Device) Seen() []client.Event {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]client.Event(nil), d.events...)
}

// WaitOnline waits until the (started) device is online.
func (d *Device) WaitOnline() {
	d.t.Helper()
	WaitEvent(d, "online", func(e client.ConnectionEvent) bool { return e.State == client.Online })
}

// Messages returns the conversation's newest 1000 messages from the store.
func (d *Device) Messages(conv string) []client.Message {
	d.t.Helper()
	ms, err := d.Store().Messages(context.Background(), d.Acct.UserID, conv, 0, 1000)
	if err != nil {
		d.t.Fatal(err)
	}
	return ms
}

// WaitMessages polls the store until check passes on the conversation.
func (d *Device) WaitMessages(conv, what string, check func([]client.Message) bool) []client.Message {
	d.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ms := d.Messages(conv)
		if check(ms) {
			return ms
		}
		if time.Now().After(deadline) {
			d.t.Fatalf("%s on %s: %s not reached; store has %s; connection %s", d.Acct.UserID, d.Acct.URL, what, Describe(ms), d.connectionHistory())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// connectionHistory lists the device's connection states, with why each
// offline came, for failure messages.
func (d *Device) connectionHistory() string {
	var out []string
	for _, e := range d.Seen() {
		if e, ok := e.(client.ConnectionEvent); ok {
			if e.Err != nil {
				out = append(out, fmt.Sprintf("%s (%v)", e.State, e.Err))
			} else {
				out = append(out, string(e.State))
			}
		}
	}
	if len(out) > 12 {
		out = append(out[:2], append([]string{"…"}, out[len(out)-10:]...)...)
	}
	return strings.Join(out, " → ")
}

// Describe prints messages briefly for failure messages.
func Describe(ms []client.Message) string {
	var out []string
	for _, m := range ms {
		out = append(out, fmt.Sprintf("%d:%q:%s", m.Seq, m.Body, m.State))
	}
	if len(out) > 20 {
		out = append(out[:10], append([]string{"…"}, out[len(out)-10:]...)...)
	}
	return fmt.Sprint(out)
}

// AllIn reports whether every message is in state s.
func AllIn(s client.MessageState) func([]client.Message) bool {
	return func(ms []client.Message) bool {
		return len(ms) > 0 && !slices.ContainsFunc(ms, func(m client.Message) bool { return m.State != s })
	}
}
