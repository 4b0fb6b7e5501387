package main

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// device is a crash-test client: it sends messages one at a time, resends
// an unacknowledged message with the same client ID after any failure,
// reconnects to its node when the socket drops, and records every message
// it receives, deduplicated by (conversation, seq).
type device struct {
	name, url, token string
	urls             []string // nodes to fail over to in turn; none: url only

	mu       sync.Mutex
	ws       *websocket.Conn
	answers  map[string]chan wsFrame     // request id → its answer
	received map[string]map[int64]string // conversation → seq → client ID
	acked    map[string]int64            // client ID → seq
	n        int
	retries  int // sends that failed and were resent
	sockets  int // connections made
	resyncs  int // resync frames received (each answered with a sync)
	lastAck  time.Time
	maxPause time.Duration // longest time between two acks since reset
}

func newDevice(name, url, token string) *device {
	return &device{name: name, url: url, token: token,
		answers: map[string]chan wsFrame{}, received: map[string]map[int64]string{}, acked: map[string]int64{}}
}

// connect (re)dials and resyncs from the device's contiguous cursors. A
// dial that fails moves the device to its next node, if it has others.
func (d *device) connect() error {
	d.mu.Lock()
	url := d.url
	d.mu.Unlock()
	ws, resp, err := dialSocket(url, d.token, true)
	if err != nil {
		if resp != nil {
			err = fmt.Errorf("%s: %w (HTTP %d)", url, err, resp.StatusCode)
		}
		d.mu.Lock()
		if i := slices.Index(d.urls, url); i >= 0 {
			d.url = d.urls[(i+1)%len(d.urls)]
		}
		d.mu.Unlock()
		return err
	}
	d.mu.Lock()
	d.ws = ws
	d.sockets++
	cursors := d.cursors()
	d.mu.Unlock()
	go d.read(ws)
	_, err = d.request("sync", map[string]any{"cursors": cursors}, 10*time.Second)
	return err
}

// resync syncs from the device's cursors, as a client told resync must:
// what the socket missed is in the store. A sync refused while the store
// is down (unavailable) is retried, as protocol.md asks.
func (d *device) resync() {
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
		d.mu.Lock()
		cursors := d.cursors()
		d.mu.Unlock()
		if f, err := d.request("sync", map[string]any{"cursors": cursors}, 10*time.Second); err == nil || f.Type != "error" {
			return // synced, or the socket is gone (a reconnect syncs)
		}
	}
}

// cursors is, per conversation, the highest seq up to which the device
// holds every message. d.mu is held.
func (d *device) cursors() map[string]int64 {
	cursors := map[string]int64{}
	for conv, seqs := range d.received {
		var c int64
		for seqs[c+1] != "" {
			c++
		}
		cursors[conv] = c
	}
	return cursors
}

func (d *device) read(ws *websocket.Conn) {
	for {
		_, b, err := ws.ReadMessage()
		if err != nil {
			return
		}
		var f wsFrame
		json.Unmarshal(b, &f)
		d.mu.Lock()
		if f.Type == "message" {
			var m wsMessage
			json.Unmarshal(f.Data, &m)
			if d.received[m.ConversationID] == nil {
				d.received[m.ConversationID] = map[int64]string{}
			}
			d.received[m.ConversationID][m.Seq] = m.ClientID
		}
		if f.Type == "resync" {
			d.resyncs++
			go d.resync()
		}
		if ch, ok := d.answers[f.ID]; ok && f.ID != "" {
			ch <- f
			delete(d.answers, f.ID)
		}
		d.mu.Unlock()
	}
}

// request sends a frame and waits for its answer (synced for a sync).
func (d *device) request(typ string, data any, timeout time.Duration) (wsFrame, error) {
	d.mu.Lock()
	d.n++
	id := fmt.Sprintf("%s-%d", d.name, d.n)
	ch := make(chan wsFrame, 1)
	d.answers[id] = ch
	ws := d.ws
	d.mu.Unlock()
	b, _ := json.Marshal(map[string]any{"type": typ, "id": id, "data": data})
	if err := ws.WriteMessage(websocket.TextMessage, b); err != nil {
		return wsFrame{}, err
	}
	select {
	case f := <-ch:
		if f.Type == "error" {
			return f, fmt.Errorf("%s: %s", typ, f.Data)
		}
		return f, nil
	case <-time.After(timeout):
		ws.Close()
		return wsFrame{}, fmt.Errorf("%s: no answer in %v", typ, timeout)
	}
}

// sendUntilAcked sends one message, reconnecting and resending with the
// same client ID until the server acknowledges it.
func (d *device) sendUntilAcked(t *testing.T, conv, clientID string) {
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		f, err := d.request("send", map[string]any{"conversation_id": conv, "client_id": clientID, "body": []byte(clientID)}, 3*time.Second)
		if err == nil {
			var s struct{ Seq int64 }
			json.Unmarshal(f.Data, &s)
			d.mu.Lock()
			d.acked[clientID] = s.Seq
			if now := time.Now(); !d.lastAck.IsZero() {
				d.maxPause = max(d.maxPause, now.Sub(d.lastAck))
			}
			d.lastAck = time.Now()
			// A client keeps its own message at the seq the ack gave: the
			// socket that sent it gets no copy.
			if d.received[conv] == nil {
				d.received[conv] = map[int64]string{}
			}
			d.received[conv][s.Seq] = clientID
			d.mu.Unlock()
			return
		}
		d.mu.Lock()
		d.retries++
		ws := d.ws
		d.mu.Unlock()
		time.Sleep(100 * time.Millisecond)
		if f.Type == "error" {
			continue // the socket is up and refused for now (unavailable): resend on it
		}
		ws.Close()
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
		if _, err := d.request("sync", map[string]any{"cursors": map[string]int64{}}, 10*time.Second); err != nil {
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
