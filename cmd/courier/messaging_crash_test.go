package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/courier-chat/courier"
	"github.com/courier-chat/courier/client"
)

// device is a crash-test client on the SDK's connection layer: it sends
// messages one at a time, resends an unacknowledged message with the same
// client ID after any failure, reconnects to its node when the socket
// drops, and records every message it receives, deduplicated by
// (conversation, seq).
type device struct {
	name, url, token string

	mu       sync.Mutex
	conn     *client.Conn
	received map[string]map[int64]string // conversation → seq → client ID
	acked    map[string]int64            // client ID → seq
	retries  int                         // sends that failed and were resent
}

func newDevice(name, url, token string) *device {
	return &device{name: name, url: url, token: token, received: map[string]map[int64]string{}, acked: map[string]int64{}}
}

// connect (re)dials and resyncs from the device's contiguous cursors.
func (d *device) connect() error {
	conn, err := client.Dial(context.Background(), d.url, d.token, client.ConnConfig{}, d.handle)
	if err != nil {
		return err
	}
	d.mu.Lock()
	d.conn = conn
	cursors := map[string]int64{}
	for conv, seqs := range d.received {
		var c int64
		for seqs[c+1] != "" {
			c++
		}
		cursors[conv] = c
	}
	d.mu.Unlock()
	_, err = d.request(courier.FrameSync, map[string]any{"cursors": cursors}, 10*time.Second)
	return err
}

// handle records a message frame.
func (d *device) handle(f client.Frame) {
	if f.Type != courier.EventMessage {
		return
	}
	var m wsMessage
	json.Unmarshal(f.Data, &m)
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.received[m.ConversationID] == nil {
		d.received[m.ConversationID] = map[int64]string{}
	}
	d.received[m.ConversationID][m.Seq] = m.ClientID
}

// request sends a frame and waits for its answer (synced for a sync); a
// request unanswered in timeout closes the socket, as a phone gives up on
// a dead connection.
func (d *device) request(typ string, data any, timeout time.Duration) (wsFrame, error) {
	d.mu.Lock()
	conn := d.conn
	d.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	f, err := conn.Request(ctx, typ, data)
	if errors.Is(err, context.DeadlineExceeded) {
		conn.Close()
	}
	return f, err
}

// sendUntilAcked sends one message, reconnecting and resending with the
// same client ID until the server acknowledges it.
func (d *device) sendUntilAcked(t *testing.T, conv, clientID string) {
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		f, err := d.request(courier.FrameSend, map[string]any{"conversation_id": conv, "client_id": clientID, "body": []byte(clientID)}, 3*time.Second)
		if err == nil {
			var s struct{ Seq int64 }
			json.Unmarshal(f.Data, &s)
			d.mu.Lock()
			d.acked[clientID] = s.Seq
			d.mu.Unlock()
			return
		}
		d.mu.Lock()
		d.retries++
		d.mu.Unlock()
		time.Sleep(100 * time.Millisecond)
		for d.connect() != nil && time.Now().Before(deadline) {
			time.Sleep(200 * time.Millisecond)
		}
	}
	t.Errorf("%s: %s never acknowledged", d.name, clientID)
}

// Clients send continuously while one API node is killed with SIGKILL and
// restarted. Afterwards every acknowledged message has reached every
// member device exactly once after dedup, seqs have no gaps or repeats,
// and resends landed once.
func TestMessaging_CrashNodeSIGKILL(t *testing.T) {
	cfg := testConfig(t)
	cfg.OpenSignup, cfg.AutoMigrate = true, true
	cfg.MessageRate, cfg.MessageBurst = 1000, 1000
	stable := startProcess(t, "serve", cfg) // in-process; migrates the schema
	childCfg := cfg
	childCfg.HTTPAddr = freeAddr(t)
	victim := startChild(t, "serve", childCfg)

	alice, bob, carol := createAccount(t, stable, "alice"), createAccount(t, stable, "bob"), createAccount(t, stable, "carol")
	group := createConversation(t, stable.URL, alice.Token, map[string]any{
		"kind": "group", "name": "g", "members": []string{bob.UserID, carol.UserID}})
	// alice and carol on the node that dies, bob on the one that stays.
	devices := []*device{newDevice("alice", victim.URL, alice.Token), newDevice("bob", stable.URL, bob.Token), newDevice("carol", victim.URL, carol.Token)}
	for _, d := range devices {
		if err := d.connect(); err != nil {
			t.Fatal(err)
		}
	}

	const perSender = 40
	var wg sync.WaitGroup
	for _, d := range devices {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perSender {
				d.sendUntilAcked(t, group, fmt.Sprintf("%s-%d", d.name, i))
				time.Sleep(15 * time.Millisecond)
			}
		}()
	}
	time.Sleep(400 * time.Millisecond)
	victim.Kill() // SIGKILL mid-stream
	time.Sleep(500 * time.Millisecond)
	startChild(t, "serve", childCfg) // same address: clients reconnect to it
	wg.Wait()

	// Final catch-up: each device syncs from its cursors once more.
	for _, d := range devices {
		if _, err := d.request(courier.FrameSync, map[string]any{"cursors": map[string]int64{}}, 10*time.Second); err != nil {
			d.connect()
		}
	}
	if devices[0].retries == 0 || devices[2].retries == 0 {
		t.Fatalf("the kill interrupted nobody (retries: alice %d, carol %d)", devices[0].retries, devices[2].retries)
	}
	t.Logf("retries after the kill: alice %d, bob %d, carol %d", devices[0].retries, devices[1].retries, devices[2].retries)
	var acked = map[string]int64{}
	for _, d := range devices {
		for k, v := range d.acked {
			acked[k] = v
		}
	}
	if len(acked) != 3*perSender {
		t.Fatalf("%d messages acknowledged, want %d", len(acked), 3*perSender)
	}
	for _, d := range devices {
		d.mu.Lock()
		got := d.received[group]
		var seqs []int64
		byClient := map[string]int64{}
		for seq, cid := range got {
			seqs = append(seqs, seq)
			if prev, dup := byClient[cid]; dup {
				t.Errorf("%s: client ID %s stored twice (seq %d and %d)", d.name, cid, prev, seq)
			}
			byClient[cid] = seq
		}
		d.mu.Unlock()
		sort.Slice(seqs, func(i, j int) bool { return seqs[i] < seqs[j] })
		for i, s := range seqs {
			if s != int64(i+1) {
				t.Fatalf("%s: seq %d at position %d: gap or repeat", d.name, s, i)
			}
		}
		for cid, seq := range acked {
			if byClient[cid] != seq {
				t.Errorf("%s: acknowledged %s (seq %d) received as seq %d", d.name, cid, seq, byClient[cid])
			}
		}
		if len(seqs) != len(acked) {
			t.Errorf("%s: %d messages, want %d (one per client ID)", d.name, len(seqs), len(acked))
		}
	}
}
