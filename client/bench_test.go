package client_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/courier-chat/courier"
	"github.com/courier-chat/courier/client"
	"github.com/courier-chat/courier/internal/clienttest"
	"github.com/courier-chat/courier/internal/testserver"
)

// The outbox and sync figures docs/client.md quotes come from here,
// against one Courier node this checkout builds and starts on the local
// services (as the tests do):
//
//	go test ./client -run '^$' -bench 'BenchmarkOutbox|BenchmarkSync' -benchtime 3x
//
// Each reports messages per second as msgs/s beside the time per
// operation.

// BenchmarkOutbox measures the outbox end to end: b.N messages written
// with Send (each one durable in the store before Send returns), sent in
// order with one in flight per conversation, until the server has
// acknowledged every one.
//   - Send: Send alone, the client not started: the local write a UI waits on.
//   - Drain1: one conversation, so one message in flight: the round trip
//     bounds it.
//   - Drain10: ten conversations, ten in flight.
func BenchmarkOutbox(b *testing.B) {
	ctx := context.Background()
	srv := testserver.Start(b, testserver.Options{MessageRate: 1_000_000})
	alice := clienttest.NewAccount(b, srv.URL(), "alice")
	alice.Start()
	alice.WaitOnline()
	var convs []string
	for i := range 10 {
		friend, err := client.Register(ctx, srv.URL(), fmt.Sprint("friend", i), "phone")
		if err != nil {
			b.Fatal(err)
		}
		c, err := alice.CreateDirect(ctx, friend.UserID)
		if err != nil {
			b.Fatal(err)
		}
		convs = append(convs, c.ID)
	}
	body := make([]byte, 100)

	b.Run("Send", func(b *testing.B) {
		// A store of its own with nobody draining it.
		d := clienttest.Open(b, alice.Acct, b.TempDir())
		for i := 0; b.Loop(); i++ {
			if _, err := d.Send(ctx, convs[i%len(convs)], body); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	})
	for _, n := range []int{1, 10} {
		b.Run(fmt.Sprint("Drain", n), func(b *testing.B) {
			for i := 0; b.Loop(); i++ {
				if _, err := alice.Send(ctx, convs[i%n], body); err != nil {
					b.Fatal(err)
				}
			}
			waitOutboxEmpty(b, alice.Store())
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}

// waitOutboxEmpty polls the outbox until the server acknowledged
// everything in it.
func waitOutboxEmpty(b *testing.B, st *client.Store) {
	b.Helper()
	for deadline := time.Now().Add(5 * time.Minute); ; time.Sleep(time.Millisecond) {
		n, err := st.Outbox().Len(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("%d messages still in the outbox", n)
		}
	}
}

// BenchmarkSync measures a phone coming back to 10,000 missed messages:
// from Start on an empty store to the store holding every one (sync
// pages of 1,000 per conversation, each message stored and deduplicated,
// delivered receipts batched). The messages wait on the server in one
// conversation (ten sync rounds, within the server's sync rate limit of
// 1/s with a burst of 5) or spread over ten (one round).
func BenchmarkSync(b *testing.B) {
	const missed = 10_000
	ctx := context.Background()
	srv := testserver.Start(b, testserver.Options{MessageRate: 1_000_000})
	for _, spread := range []int{1, 10} {
		bob, err := client.Register(ctx, srv.URL(), "bob", "phone")
		if err != nil {
			b.Fatal(err)
		}
		fillConversations(b, srv.URL(), bob.UserID, spread, missed)
		b.Run(fmt.Sprintf("10kIn%d", spread), func(b *testing.B) {
			for b.Loop() {
				syncAll(b, bob, missed)
			}
			b.ReportMetric(float64(missed*b.N)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}

// fillConversations has a new user send total messages to to, spread
// over that many group conversations, through the connection layer with
// 32 sends in flight.
func fillConversations(b *testing.B, url, to string, spread, total int) {
	ctx := context.Background()
	sender, err := client.Register(ctx, url, "sender", "phone")
	if err != nil {
		b.Fatal(err)
	}
	setup := clienttest.Open(b, sender, b.TempDir())
	var convs []string
	for i := range spread {
		c, err := setup.CreateGroup(ctx, fmt.Sprint("group", i), []string{to})
		if err != nil {
			b.Fatal(err)
		}
		convs = append(convs, c.ID)
	}
	conn, err := client.Dial(ctx, url, sender.Token, client.ConnConfig{}, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	next := make(chan int)
	errs := make(chan error, 32)
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			for i := range next {
				_, err := conn.Request(ctx, courier.FrameSend, map[string]any{
					"conversation_id": convs[i%spread], "client_id": fmt.Sprint("fill-", i), "body": make([]byte, 100)})
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	for i := 0; i < total && len(errs) == 0; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
	if len(errs) > 0 {
		b.Fatal(<-errs)
	}
}

// syncAll starts acct's device on an empty store and waits until the
// store holds want messages.
func syncAll(b *testing.B, acct client.Account, want int) {
	ctx := context.Background()
	st, err := client.OpenStore(filepath.Join(b.TempDir(), "store.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	st.SaveAccount(ctx, acct)
	c, err := client.New(client.Config{Store: st})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	go func() {
		for range c.Events() {
		}
	}()
	c.Start()
	for deadline := time.Now().Add(5 * time.Minute); ; time.Sleep(2 * time.Millisecond) {
		cursors, err := st.Cursors(ctx)
		if err != nil {
			b.Fatal(err)
		}
		held := 0
		for _, c := range cursors {
			held += int(c)
		}
		if held >= want {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("synced %d of %d messages", held, want)
		}
	}
}
