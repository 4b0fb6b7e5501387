package postgres_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/courier-chat/courier"
	"github.com/courier-chat/courier/internal/testenv"
	"github.com/courier-chat/courier/postgres"
)

// benchSenders is the concurrency every variant of BenchmarkSend runs at:
// GOMAXPROCS × benchParallelism goroutines, 64 on a 2-core machine.
const benchParallelism = 32

// BenchmarkSend measures durable messages per second from many concurrent
// senders in direct conversations:
//
//   - raw-tx: the bare transaction (bump the seq, insert the message,
//     commit), one per message: the baseline the issue compares with;
//   - one-tx-per-message: MessageStore.Send with group commit off;
//   - group-commit: MessageStore.Send with the default configuration.
//
// Compare the msgs/s metric of group-commit with raw-tx:
//
//	go test ./postgres -run '^$' -bench BenchmarkSend -benchtime 4000x
func BenchmarkSend(b *testing.B) {
	db := testenv.NewDB(b)
	pool, err := postgres.Open(context.Background(), postgres.Config{URL: db.URL, Schema: db.Schema, MaxConns: 20})
	if err != nil {
		b.Fatal(err)
	}
	defer pool.Close()
	e := &env{db: db, convs: postgres.NewConversationService(pool, postgres.ConversationConfig{})}
	senders := e.users(b, 2*benchParallelism)
	convs := make([]string, len(senders))
	for i := 0; i < len(senders); i += 2 {
		c, err := e.convs.CreateDirect(context.Background(), senders[i].UserID, senders[i+1].UserID)
		if err != nil {
			b.Fatal(err)
		}
		convs[i], convs[i+1] = c.ID, c.ID
	}
	body := make([]byte, 256)

	b.Run("raw-tx", func(b *testing.B) {
		runSenders(b, len(senders), func(ctx context.Context, i, n int) error {
			return postgres.RawSend(ctx, pool, senders[i], convs[i], fmt.Sprintf("raw-%d", clientSeq.Add(1)), body)
		})
	})
	for _, v := range []struct {
		name string
		cfg  postgres.MessageConfig
	}{
		{"one-tx-per-message", postgres.MessageConfig{MaxBatch: 1}},
		{"group-commit", postgres.MessageConfig{}},
	} {
		b.Run(v.name, func(b *testing.B) {
			store := postgres.NewMessageStore(pool, v.cfg)
			defer store.Close()
			runSenders(b, len(senders), func(ctx context.Context, i, n int) error {
				_, _, err := store.Send(ctx, senders[i], courier.SendRequest{ConversationID: convs[i],
					ClientID: fmt.Sprintf("%s-%d", v.name, clientSeq.Add(1)), Body: body})
				return err
			})
		})
	}
}

// clientSeq makes client IDs unique across the runs of one benchmark.
var clientSeq atomic.Int64

// runSenders runs send from benchParallelism goroutines per CPU, each as
// its own sender, and reports messages per second.
func runSenders(b *testing.B, senders int, send func(ctx context.Context, sender, n int) error) {
	var next atomic.Int64
	b.SetParallelism(benchParallelism)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := int(next.Add(1)-1) % senders
		ctx := context.Background()
		for n := 0; pb.Next(); n++ {
			if err := send(ctx, i, n); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}
