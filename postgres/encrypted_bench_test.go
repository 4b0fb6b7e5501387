package postgres_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/courier-chat/courier"
	"github.com/courier-chat/courier/client/e2e"
	"github.com/courier-chat/courier/internal/testenv"
	"github.com/courier-chat/courier/postgres"
)

// BenchmarkSendGroup500 compares sends in a 500-member group whose members
// each have one device with keys: plain, and encrypted, where the insert
// also checks the named recipient devices (499 of them) against the
// members' devices under the conversation's lock. Eight members send at
// once. Compare the msgs/s of the two:
//
//	go test ./postgres -run '^$' -bench BenchmarkSendGroup500 -benchtime 2000x
func BenchmarkSendGroup500(b *testing.B) {
	const members, senders = 500, 8
	ctx := context.Background()
	db := testenv.NewDB(b)
	pool, err := postgres.Open(ctx, postgres.Config{URL: db.URL, Schema: db.Schema, MaxConns: 20})
	if err != nil {
		b.Fatal(err)
	}
	defer pool.Close()
	e := &env{db: db, convs: postgres.NewConversationService(pool, postgres.ConversationConfig{})}
	keys := postgres.NewKeyStore(pool)
	devs := e.users(b, members)
	ids := make([]string, members)
	for i, d := range devs {
		id := e2e.NewIdentity()
		p, err := id.NewPrekey(courier.KEMX25519, courier.PrekeySigned, 1)
		if err != nil {
			b.Fatal(err)
		}
		if _, _, err := keys.PutKeys(ctx, d, courier.KeyUpload{IdentityKey: id.Public(), Prekeys: []courier.Prekey{p.Public}}); err != nil {
			b.Fatal(err)
		}
		ids[i] = d.UserID
	}
	recipients := make([][]string, senders)
	for i := range recipients {
		for j, d := range devs {
			if j != i {
				recipients[i] = append(recipients[i], d.ID)
			}
		}
		slices.Sort(recipients[i])
	}
	body := make([]byte, 256)
	store := postgres.NewMessageStore(pool, postgres.MessageConfig{})
	defer store.Close()
	for _, encrypted := range []bool{false, true} {
		g, err := e.convs.Create(ctx, ids[0], courier.NewConversation{Kind: courier.ConversationGroup, Name: "g",
			Members: ids[1:], Encrypted: encrypted})
		if err != nil {
			b.Fatal(err)
		}
		// Statistics as autovacuum keeps them on a live database.
		if _, err := pool.Exec(ctx, `ANALYZE`); err != nil {
			b.Fatal(err)
		}
		name := "plain"
		if encrypted {
			name = "encrypted"
		}
		b.Run(name, func(b *testing.B) {
			runSenders(b, senders, func(ctx context.Context, i, n int) error {
				req := courier.SendRequest{ConversationID: g.ID, ClientID: fmt.Sprintf("%s-%d", name, clientSeq.Add(1)), Body: body}
				if encrypted {
					req.Devices = recipients[i]
				}
				_, _, err := store.Send(ctx, devs[i], req)
				return err
			})
		})
	}
}
