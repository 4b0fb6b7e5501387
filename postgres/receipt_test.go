package postgres_test

import (
	"context"
	"testing"

	"github.com/courier-chat/courier"
	"github.com/courier-chat/courier/postgres"
)

func TestUpdateReceipt(t *testing.T) {
	e := newEnv(t, postgres.ConversationConfig{}, postgres.MessageConfig{})
	ctx := context.Background()
	u := e.users(t, 3)
	conv, _ := e.convs.CreateDirect(ctx, u[0].UserID, u[1].UserID)
	for range 5 {
		e.send(t, u[0], conv.ID)
	}
	// Steps run in order on u[1]'s watermarks; the conversation's last seq is 5.
	for _, st := range []struct {
		name            string
		kind            courier.ReceiptKind
		seq             int64
		moved           bool
		delivered, read int64
		code            string
	}{
		{"deliver 2", courier.ReceiptDelivered, 2, true, 2, 0, ""},
		{"deliver 1 is back", courier.ReceiptDelivered, 1, false, 2, 0, ""},
		{"read 3 implies delivered", courier.ReceiptRead, 3, true, 3, 3, ""},
		{"deliver 3 again", courier.ReceiptDelivered, 3, false, 3, 3, ""},
		{"deliver 4 leaves read", courier.ReceiptDelivered, 4, true, 4, 3, ""},
		{"read far future is capped", courier.ReceiptRead, 1_000_000_000, true, 5, 5, ""},
		{"read 2 is back", courier.ReceiptRead, 2, false, 5, 5, ""},
		{"negative", courier.ReceiptRead, -1, false, 0, 0, courier.EINVALID},
		{"bad kind", "seen", 1, false, 0, 0, courier.EINVALID},
	} {
		t.Run(st.name, func(t *testing.T) {
			r, moved, err := e.msgs.UpdateReceipt(ctx, u[1].UserID, conv.ID, st.kind, st.seq)
			wantCode(t, err, st.code)
			if err != nil {
				return
			}
			if moved != st.moved || r.DeliveredSeq != st.delivered || r.ReadSeq != st.read {
				t.Fatalf("moved=%v delivered=%d read=%d; want %v %d %d", moved, r.DeliveredSeq, r.ReadSeq, st.moved, st.delivered, st.read)
			}
		})
	}
	_, _, err := e.msgs.UpdateReceipt(ctx, u[2].UserID, conv.ID, courier.ReceiptRead, 1)
	wantCode(t, err, courier.ENOTFOUND)
	// The sender's own watermarks followed their sends.
	c, _ := e.convs.Conversation(ctx, u[0].UserID, conv.ID)
	for _, m := range c.Members {
		if m.UserID == u[0].UserID && (m.ReadSeq != 5 || m.DeliveredSeq != 5) {
			t.Fatalf("sender's watermarks %+v, want read 5", m)
		}
	}
}

func TestMessagesWindow(t *testing.T) {
	e := newEnv(t, postgres.ConversationConfig{}, postgres.MessageConfig{})
	ctx := context.Background()
	u := e.users(t, 2)
	conv, _ := e.convs.CreateDirect(ctx, u[0].UserID, u[1].UserID)
	for range 10 {
		e.send(t, u[0], conv.ID)
	}
	for _, tc := range []struct {
		name           string
		after, before  int64
		limit          int
		first, last, n int64
	}{
		{"all", 0, 0, 0, 1, 10, 10},
		{"after", 7, 0, 0, 8, 10, 3},
		{"after with limit takes the oldest", 2, 0, 3, 3, 5, 3},
		{"before takes the newest below it", 0, 8, 3, 5, 7, 3},
		{"between", 3, 6, 0, 4, 5, 2},
		{"empty window", 5, 6, 0, 0, 0, 0},
		{"past the end", 10, 0, 0, 0, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			msgs, err := e.msgs.Messages(ctx, u[1].UserID, conv.ID, tc.after, tc.before, tc.limit)
			if err != nil {
				t.Fatal(err)
			}
			if int64(len(msgs)) != tc.n {
				t.Fatalf("%d messages, want %d", len(msgs), tc.n)
			}
			if tc.n > 0 && (msgs[0].Seq != tc.first || msgs[len(msgs)-1].Seq != tc.last) {
				t.Fatalf("seqs %d..%d, want %d..%d", msgs[0].Seq, msgs[len(msgs)-1].Seq, tc.first, tc.last)
			}
		})
	}
	_, err := e.msgs.Messages(ctx, u[0].UserID, conv.ID, -1, 0, 0)
	wantCode(t, err, courier.EINVALID)
}
