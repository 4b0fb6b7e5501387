package client

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/courier-chat/courier"
)

// The figures docs/client.md quotes for the store come from here:
//
//	go test ./client -run '^$' -bench BenchmarkStore -benchtime 20x
//
// Opening the store and showing the first screen must not grow with the
// history a phone has accumulated: the list reads one page of
// conversations on the activity index and each one's newest message by
// its row ID, and the history reads a page on the (conversation, seq)
// index.

const (
	benchMessages      = 100_000
	benchConversations = 200
)

// BenchmarkStore builds a store of 100,000 messages (200 direct
// conversations of 500, every other message the user's own) through the
// same code that stores synced messages, 1,000 per transaction, then
// measures:
//   - FirstScreen100k: OpenStore (migrations checked) to the conversation
//     list (50, with last messages and 10 unread each) and the newest 50
//     messages of the first conversation: what an app shows at launch
//     before any network;
//   - Conversations100k and History100k: those two reads alone, on an open
//     store.
func BenchmarkStore(b *testing.B) {
	ctx := context.Background()
	path := filepath.Join(b.TempDir(), "store.db")
	self := Account{URL: "http://127.0.0.1:1", UserID: "me", DeviceID: "my-phone", Token: "t"}
	s, err := OpenStore(path)
	if err != nil {
		b.Fatal(err)
	}
	if err := s.SaveAccount(ctx, self); err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	if err := fillStore(ctx, s, self); err != nil {
		b.Fatal(err)
	}
	b.Logf("stored %d synced messages in %s (%.0f/s)", benchMessages, time.Since(start), benchMessages/time.Since(start).Seconds())
	s.Close()

	firstScreen := func(b *testing.B, s *Store) {
		list, err := s.Conversations(ctx, self.UserID, 50)
		if err != nil || len(list) != 50 {
			b.Fatalf("conversation list: %d, %v", len(list), err)
		}
		ms, err := s.Messages(ctx, self.UserID, list[0].ID, 0, 50)
		if err != nil || len(ms) != 50 {
			b.Fatalf("history: %d, %v", len(ms), err)
		}
	}
	b.Run("FirstScreen100k", func(b *testing.B) {
		for b.Loop() {
			s, err := OpenStore(path)
			if err != nil {
				b.Fatal(err)
			}
			firstScreen(b, s)
			s.Close()
		}
	})
	s, err = OpenStore(path)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	b.Run("Conversations100k", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.Conversations(ctx, self.UserID, 50); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("History100k", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.Messages(ctx, self.UserID, "conv-7", 0, 50); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// fillStore stores the benchmark's history as a sync would: storeRemote,
// a page of 1,000 messages per transaction, conversations interleaved.
// The other member read and received everything up to seq 400 of each
// conversation, so states have work to do; the user read up to 480, so
// each conversation shows 10 unread messages.
func fillStore(ctx context.Context, s *Store, self Account) error {
	body := make([]byte, 100)
	t0 := time.Now().Add(-benchMessages * time.Second)
	for i := 0; i < benchMessages; {
		err := s.tx(ctx, func(tx *sqlTx) error {
			for end := i + 1000; i < end && i < benchMessages; i++ {
				conv := i % benchConversations
				m := &courier.Message{
					ConversationID: fmt.Sprint("conv-", conv), Seq: int64(i/benchConversations + 1),
					ClientID: fmt.Sprint("c", i), SenderID: fmt.Sprint("friend-", conv), SenderDeviceID: fmt.Sprint("friend-phone-", conv),
					Body: body, CreatedAt: t0.Add(time.Duration(i) * time.Second),
				}
				if i%2 == 0 {
					m.SenderID, m.SenderDeviceID = self.UserID, "my-old-phone"
				}
				if _, _, err := storeRemote(ctx, tx, self, m); err != nil {
					return err
				}
			}
			for conv := range benchConversations {
				if _, err := advanceCursor(ctx, tx, fmt.Sprint("conv-", conv)); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return s.tx(ctx, func(tx *sqlTx) error {
		for conv := range benchConversations {
			id := fmt.Sprint("conv-", conv)
			c := &courier.Conversation{ID: id, Kind: courier.ConversationDirect, CreatedAt: t0, Members: []courier.Member{
				{UserID: self.UserID, Role: "member", DeliveredSeq: 500, ReadSeq: 450},
				{UserID: fmt.Sprint("friend-", conv), Role: "member", DeliveredSeq: 400, ReadSeq: 400},
			}}
			if err := saveConversation(ctx, tx, c); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `UPDATE conversations SET read_seq = 480 WHERE id = ?`, id); err != nil {
				return err
			}
		}
		return nil
	})
}
