package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/courier-chat/courier"
)

// RawSend is the baseline the messaging benchmarks measure against: the bare
// insert-with-seq transaction (bump the conversation's seq, insert, commit),
// one message per transaction, with none of MessageStore's checks or group
// commit. One definition, so `courier bench messages` and BenchmarkSend
// measure the same SQL.
func RawSend(ctx context.Context, pool *pgxpool.Pool, from *courier.Device, conv, clientID string, body []byte) error {
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		var seq int64
		if err := tx.QueryRow(ctx, `UPDATE conversations SET last_seq = last_seq + 1 WHERE id = $1
			RETURNING last_seq`, conv).Scan(&seq); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO messages (conversation_id, seq, sender_id, sender_device_id,
			client_id, body, created_at) VALUES ($1, $2, $3, $4, $5, $6, now())`,
			conv, seq, from.UserID, from.ID, clientID, body)
		return err
	})
}
