package postgres

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/courier-chat/courier"
)

var _ courier.MailboxStore = (*MailboxStore)(nil)

// MailboxStore keeps device mailboxes (migrations/0008_e2e.sql).
type MailboxStore struct {
	db *pgxpool.Pool
}

// NewMailboxStore returns a MailboxStore over db.
func NewMailboxStore(db *pgxpool.Pool) *MailboxStore { return &MailboxStore{db: db} }

func (s *MailboxStore) PutMailbox(ctx context.Context, from *courier.Device, items []courier.MailboxPut) ([]*courier.MailboxItem, error) {
	if err := courier.ValidateMailboxPut(items); err != nil {
		return nil, err
	}
	ids := make([]string, len(items))
	payloads := make([][]byte, len(items))
	for i, it := range items {
		ids[i], payloads[i] = it.DeviceID, it.Payload
	}
	var out []*courier.MailboxItem
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		// Reachable: live devices of the sender's user or of someone who
		// shares a live membership with them. No stranger can fill a
		// device's mailbox.
		rows, err := tx.Query(ctx, `/* scatter: whether two users share a conversation, per mailbox send */
			SELECT d.id FROM devices d WHERE d.id = ANY($1) AND d.revoked_at IS NULL
			AND (d.user_id = $2 OR EXISTS (SELECT 1 FROM conversation_members a
				JOIN conversation_members b ON b.conversation_id = a.conversation_id
				WHERE a.user_id = $2 AND a.removed_seq IS NULL AND b.user_id = d.user_id AND b.removed_seq IS NULL))`,
			ids, from.UserID)
		if err != nil {
			return err
		}
		reachable, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		if missing := without(ids, reachable); len(missing) > 0 {
			return courier.Errorf(courier.ENOTFOUND, "no such device, or not one you share a conversation with: %s", strings.Join(missing, ", "))
		}
		// Expired payloads of these devices go first, so a device that
		// never comes back holds at most MaxMailboxPending of them.
		if _, err := tx.Exec(ctx, `DELETE FROM mailbox WHERE device_id = ANY($1) AND expires_at < now()`, ids); err != nil {
			return err
		}
		rows, err = tx.Query(ctx, `WITH ins AS (INSERT INTO mailbox (device_id, sender_id, sender_device_id, payload, expires_at)
				SELECT d, $3, $4, p, now() + $5::interval FROM unnest($1::text[], $2::bytea[]) AS u(d, p)
				RETURNING id, device_id, sender_id, sender_device_id, payload, created_at)
			SELECT ins.id, d.user_id, ins.device_id, sender_id, sender_device_id, payload, ins.created_at
			FROM ins JOIN devices d ON d.id = ins.device_id ORDER BY ins.id`,
			ids, payloads, from.UserID, from.ID, fmt.Sprintf("%d seconds", int64(courier.MailboxExpiry/time.Second)))
		if err != nil {
			return err
		}
		if out, err = pgx.CollectRows(rows, scanMailboxItem); err != nil {
			return err
		}
		var full string
		err = tx.QueryRow(ctx, `SELECT device_id FROM mailbox WHERE device_id = ANY($1)
			GROUP BY device_id HAVING count(*) > $2 LIMIT 1`, ids, courier.MaxMailboxPending).Scan(&full)
		if err == nil {
			return courier.Errorf(courier.ETOOLARGE, "device %s has %d payloads waiting; it must acknowledge some first", full, courier.MaxMailboxPending)
		} else if !noRows(err) {
			return err
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// without returns the strings of all that are not in some, once each.
func without(all, some []string) []string {
	have := map[string]bool{}
	for _, s := range some {
		have[s] = true
	}
	var out []string
	for _, s := range all {
		if !have[s] {
			out = append(out, s)
			have[s] = true
		}
	}
	return out
}

func scanMailboxItem(row pgx.CollectableRow) (*courier.MailboxItem, error) {
	it := &courier.MailboxItem{}
	err := row.Scan(&it.ID, &it.UserID, &it.DeviceID, &it.SenderID, &it.SenderDeviceID, &it.Payload, &it.CreatedAt)
	return it, err
}

func (s *MailboxStore) Mailbox(ctx context.Context, deviceID string, after int64, limit int) ([]*courier.MailboxItem, error) {
	rows, err := s.db.Query(ctx, `SELECT m.id, d.user_id, m.device_id, m.sender_id, m.sender_device_id, m.payload, m.created_at
		FROM mailbox m JOIN devices d ON d.id = m.device_id
		WHERE m.device_id = $1 AND m.id > $2 AND m.expires_at > now() ORDER BY m.id LIMIT $3`,
		deviceID, after, limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, scanMailboxItem)
}

func (s *MailboxStore) AckMailbox(ctx context.Context, deviceID string, ids []int64) (int, error) {
	if len(ids) > courier.MaxMailboxPending {
		return 0, courier.Errorf(courier.ETOOLARGE, "acknowledge at most %d payloads at a time", courier.MaxMailboxPending)
	}
	tag, err := s.db.Exec(ctx, `DELETE FROM mailbox WHERE device_id = $1 AND id = ANY($2)`, deviceID, ids)
	if err != nil {
		return 0, err
	}
	return int(tag.RowsAffected()), nil
}
