package postgres_test

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/courier-chat/courier"
	"github.com/courier-chat/courier/postgres"
)

// storeConfigs runs a test with group commit on and off.
var storeConfigs = []struct {
	name string
	cfg  postgres.MessageConfig
}{
	{"group-commit", postgres.MessageConfig{}},
	{"one-tx-per-message", postgres.MessageConfig{MaxBatch: 1}},
}

// TestSendSeqConcurrent sends from many goroutines into several
// conversations at once and checks every conversation holds seqs 1..N
// exactly once, with timestamps that follow them.
func TestSendSeqConcurrent(t *testing.T) {
	for _, sc := range storeConfigs {
		t.Run(sc.name, func(t *testing.T) {
			e := newEnv(t, postgres.ConversationConfig{}, sc.cfg)
			ctx := context.Background()
			u := e.users(t, 6)
			var convs []string
			for i := range 3 {
				convs = append(convs, e.group(t, u[i], u[3:]...).ID)
			}
			const goroutines, each = 24, 15
			var wg sync.WaitGroup
			for g := range goroutines {
				wg.Add(1)
				go func() {
					defer wg.Done()
					from := u[3+g%3]
					for i := range each {
						conv := convs[(g+i)%len(convs)]
						m, created, err := e.msgs.Send(ctx, from, courier.SendRequest{ConversationID: conv,
							ClientID: fmt.Sprintf("g%d-%d", g, i), Body: []byte{byte(g), byte(i)}})
						if err != nil || !created || m.Seq < 1 {
							t.Errorf("send: %v created=%v %+v", err, created, m)
							return
						}
					}
				}()
			}
			wg.Wait()
			total := 0
			for _, conv := range convs {
				c, err := e.convs.Conversation(ctx, u[3].UserID, conv)
				if err != nil {
					t.Fatal(err)
				}
				var msgs []*courier.Message
				for after := int64(0); ; {
					page, err := e.msgs.Messages(ctx, u[4].UserID, conv, after, 0, 0)
					if err != nil {
						t.Fatal(err)
					} else if len(page) == 0 {
						break
					}
					msgs, after = append(msgs, page...), page[len(page)-1].Seq
				}
				for i, m := range msgs {
					if m.Seq != int64(i+1) {
						t.Fatalf("conversation %d: message %d has seq %d (gap or duplicate)", total, i, m.Seq)
					} else if i > 0 && m.CreatedAt.Before(msgs[i-1].CreatedAt) {
						t.Fatalf("seq %d is older than seq %d", m.Seq, m.Seq-1)
					}
				}
				if c.LastSeq != int64(len(msgs)) {
					t.Fatalf("last_seq %d, %d messages", c.LastSeq, len(msgs))
				}
				total += len(msgs)
			}
			if total != goroutines*each {
				t.Fatalf("%d messages stored, %d sent", total, goroutines*each)
			}
		})
	}
}

// TestSendIdempotent resends, also concurrently and from two stores (two
// API nodes), and checks one message is stored and every answer agrees.
func TestSendIdempotent(t *testing.T) {
	for _, sc := range storeConfigs {
		t.Run(sc.name, func(t *testing.T) {
			e := newEnv(t, postgres.ConversationConfig{}, sc.cfg)
			other := postgres.NewMessageStore(e.db.Pool, sc.cfg)
			defer other.Close()
			ctx := context.Background()
			u := e.users(t, 2)
			conv, _ := e.convs.CreateDirect(ctx, u[0].UserID, u[1].UserID)
			conv2 := e.group(t, u[0], u[1])
			req := courier.SendRequest{ConversationID: conv.ID, ClientID: "c1", Body: []byte("once")}

			first, created, err := e.msgs.Send(ctx, u[0], req)
			if err != nil || !created {
				t.Fatalf("first send: %v created=%v", err, created)
			}
			again, created, err := e.msgs.Send(ctx, u[0], req)
			if err != nil || created || again.Seq != first.Seq || !bytes.Equal(again.Body, first.Body) {
				t.Fatalf("resend: %v created=%v %+v", err, created, again)
			}
			// The same client ID from another device is another message.
			d2 := *u[0]
			d2.ID = courier.NewID()
			if m, created, err := e.msgs.Send(ctx, &d2, req); err != nil || !created || m.Seq != 2 {
				t.Fatalf("other device: %v created=%v %+v", err, created, m)
			}
			// A client ID is unique per conversation: in another one it
			// is another message (docs/scaling.md, keys by conversation).
			if m, created, err := e.msgs.Send(ctx, u[0], courier.SendRequest{ConversationID: conv2.ID, ClientID: "c1", Body: []byte("x")}); err != nil ||
				!created || m.ConversationID != conv2.ID || m.Seq != 1 || string(m.Body) != "x" {
				t.Fatalf("the same client ID in another conversation: %v created=%v %+v", err, created, m)
			}

			// Concurrent resends of new client IDs, half through each store,
			// mixed with distinct messages.
			const rounds, copies = 5, 8
			for r := range rounds {
				var wg sync.WaitGroup
				seqs := make([]int64, copies)
				var createdN int
				var mu sync.Mutex
				for i := range copies {
					wg.Add(1)
					go func() {
						defer wg.Done()
						store := e.msgs
						if i%2 == 1 {
							store = other
						}
						m, created, err := store.Send(ctx, u[1], courier.SendRequest{ConversationID: conv.ID,
							ClientID: fmt.Sprintf("r%d", r), Body: []byte("dup")})
						if err != nil {
							t.Error(err)
							return
						}
						e.send(t, u[0], conv.ID)
						mu.Lock()
						seqs[i] = m.Seq
						if created {
							createdN++
						}
						mu.Unlock()
					}()
				}
				wg.Wait()
				for _, s := range seqs {
					if s != seqs[0] {
						t.Fatalf("round %d: resends answered seqs %v", r, seqs)
					}
				}
				if createdN != 1 {
					t.Fatalf("round %d: %d sends reported created, want 1", r, createdN)
				}
			}
			var n, last int64
			e.db.Pool.QueryRow(ctx, `SELECT count(*), max(seq) FROM messages WHERE conversation_id = $1`, conv.ID).Scan(&n, &last)
			if want := int64(2 + rounds + rounds*copies); n != want || last != want {
				t.Fatalf("%d messages up to seq %d, want %d", n, last, want)
			}
		})
	}
}

func TestSendValidation(t *testing.T) {
	e := newEnv(t, postgres.ConversationConfig{}, postgres.MessageConfig{})
	ctx := context.Background()
	u := e.users(t, 3)
	conv, _ := e.convs.CreateDirect(ctx, u[0].UserID, u[1].UserID)
	long := string(bytes.Repeat([]byte("x"), postgres.MaxClientIDLen+1))
	many := make([]string, courier.MaxAttachments+1)
	for i := range many {
		many[i] = courier.NewID()
	}
	for _, tc := range []struct {
		name string
		from *courier.Device
		req  courier.SendRequest
		code string
	}{
		{"ok", u[0], courier.SendRequest{ConversationID: conv.ID, ClientID: "a", Body: []byte("x")}, ""},
		{"largest body", u[0], courier.SendRequest{ConversationID: conv.ID, ClientID: "b", Body: make([]byte, courier.MaxMessageBody)}, ""},
		{"body too large", u[0], courier.SendRequest{ConversationID: conv.ID, ClientID: "c", Body: make([]byte, courier.MaxMessageBody+1)}, courier.ETOOLARGE},
		{"no client id", u[0], courier.SendRequest{ConversationID: conv.ID, Body: []byte("x")}, courier.EINVALID},
		{"client id too long", u[0], courier.SendRequest{ConversationID: conv.ID, ClientID: long, Body: []byte("x")}, courier.EINVALID},
		{"empty", u[0], courier.SendRequest{ConversationID: conv.ID, ClientID: "d"}, courier.EINVALID},
		{"too many attachments", u[0], courier.SendRequest{ConversationID: conv.ID, ClientID: "e", Attachments: many}, courier.ETOOLARGE},
		{"non-member", u[2], courier.SendRequest{ConversationID: conv.ID, ClientID: "f", Body: []byte("x")}, courier.ENOTFOUND},
		{"unknown conversation", u[0], courier.SendRequest{ConversationID: courier.NewID(), ClientID: "g", Body: []byte("x")}, courier.ENOTFOUND},
		{"malformed conversation", u[0], courier.SendRequest{ConversationID: "a\x00b", ClientID: "h", Body: []byte("x")}, courier.ENOTFOUND},
		{"no device", nil, courier.SendRequest{ConversationID: conv.ID, ClientID: "i", Body: []byte("x")}, courier.EUNAUTHORIZED},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := e.msgs.Send(ctx, tc.from, tc.req)
			wantCode(t, err, tc.code)
		})
	}
}

func TestSendAfterClose(t *testing.T) {
	e := newEnv(t, postgres.ConversationConfig{}, postgres.MessageConfig{})
	ctx := context.Background()
	u := e.users(t, 2)
	conv, _ := e.convs.CreateDirect(ctx, u[0].UserID, u[1].UserID)
	// Sends in flight when Close starts are committed and answered.
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, err := e.msgs.Send(ctx, u[0], courier.SendRequest{ConversationID: conv.ID, ClientID: fmt.Sprint(i), Body: []byte("x")})
			if code := courier.ErrorCode(err); code != "" && code != courier.EUNAVAILABLE {
				t.Error(err)
			}
		}()
	}
	e.msgs.Close()
	wg.Wait()
	_, _, err := e.msgs.Send(ctx, u[0], courier.SendRequest{ConversationID: conv.ID, ClientID: "late", Body: []byte("x")})
	wantCode(t, err, courier.EUNAVAILABLE)
}
