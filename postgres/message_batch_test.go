package postgres_test

import (
	"context"
	"testing"

	"github.com/courier-chat/courier"
	"github.com/courier-chat/courier/postgres"
)

// TestBatchFailureIsolated puts into one batch good messages, a duplicate,
// a non-member's message, and one the database refuses (a NUL byte in an
// attachment ID fails the whole transaction). Each caller must get its own
// answer, and the good messages seqs with no gap.
func TestBatchFailureIsolated(t *testing.T) {
	e := newEnv(t, postgres.ConversationConfig{}, postgres.MessageConfig{})
	ctx := context.Background()
	u := e.users(t, 3)
	conv, _ := e.convs.CreateDirect(ctx, u[0].UserID, u[1].UserID)
	msg := func(client string, atts ...string) courier.SendRequest {
		return courier.SendRequest{ConversationID: conv.ID, ClientID: client, Body: []byte(client), Attachments: atts}
	}
	from := []*courier.Device{u[0], u[1], u[0], u[2], u[1], u[0], u[1]}
	reqs := []courier.SendRequest{msg("a"), msg("b"), msg("a"), msg("c"), msg("d", "bad\x00id"), msg("e"), msg("f")}
	want := []struct {
		seq     int64
		created bool
		code    string
	}{
		{1, true, ""}, {2, true, ""}, {1, false, ""}, {0, false, courier.ENOTFOUND},
		{0, false, courier.EINTERNAL}, {3, true, ""}, {4, true, ""},
	}
	got := e.msgs.CommitBatch(from, reqs)
	for i, w := range want {
		r := got[i]
		wantCode(t, r.Err, w.code)
		if r.Err == nil && (r.Msg.Seq != w.seq || r.Created != w.created || string(r.Msg.Body) != reqs[i].ClientID) {
			t.Fatalf("message %d: seq %d created %v body %q; want seq %d created %v", i, r.Msg.Seq, r.Created, r.Msg.Body, w.seq, w.created)
		}
	}
	msgs, _ := e.msgs.Messages(ctx, u[0].UserID, conv.ID, 0, 0, 0)
	if got := seqsOf(msgs); !sameSeqs(got, []int64{1, 2, 3, 4}) {
		t.Fatalf("stored seqs %v", got)
	}
}
