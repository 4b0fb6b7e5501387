package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/courier-chat/courier"
)

var _ courier.PushStore = (*PushStore)(nil)

// PushStore keeps push registrations and conversation mutes, and reads
// what a push says (PushContent).
type PushStore struct {
	db *pgxpool.Pool
}

// NewPushStore returns a PushStore over db.
func NewPushStore(db *pgxpool.Pool) *PushStore { return &PushStore{db: db} }

const registrationColumns = `device_id, user_id, service, token, topic, environment, kem, public_key, updated_at`

func scanRegistration(row pgx.Row) (*courier.PushRegistration, error) {
	r := &courier.PushRegistration{}
	err := row.Scan(&r.DeviceID, &r.UserID, &r.Service, &r.Token, &r.Topic, &r.Environment, &r.KEM, &r.PublicKey, &r.UpdatedAt)
	if noRows(err) {
		return nil, courier.Errorf(courier.ENOTFOUND, "no push registration")
	}
	return r, err
}

func (s *PushStore) RegisterPush(ctx context.Context, r *courier.PushRegistration) error {
	if err := r.Validate(); err != nil {
		return err
	}
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		// The token moves to this device: whoever held it loses it.
		if _, err := tx.Exec(ctx, `DELETE FROM push_registrations WHERE token = $1 AND device_id <> $2`,
			r.Token, r.DeviceID); err != nil {
			return err
		}
		// Only a live device of the user registers (a revoked one's token
		// fails authentication before this, but a race must not leave a
		// registration the revocation trigger already ran past).
		return tx.QueryRow(ctx, `INSERT INTO push_registrations
				(device_id, user_id, service, token, topic, environment, kem, public_key)
			SELECT id, user_id, $3, $4, $5, $6, $7, $8 FROM devices
			WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL
			ON CONFLICT (device_id) DO UPDATE SET service = EXCLUDED.service, token = EXCLUDED.token,
				topic = EXCLUDED.topic, environment = EXCLUDED.environment, kem = EXCLUDED.kem,
				public_key = EXCLUDED.public_key, updated_at = now()
			RETURNING updated_at`,
			r.DeviceID, r.UserID, r.Service, r.Token, r.Topic, r.Environment, r.KEM, r.PublicKey).Scan(&r.UpdatedAt)
	})
	if noRows(err) {
		return courier.Errorf(courier.ENOTFOUND, "device not found")
	}
	return err
}

func (s *PushStore) PushRegistration(ctx context.Context, deviceID string) (*courier.PushRegistration, error) {
	return scanRegistration(s.db.QueryRow(ctx, `SELECT `+registrationColumns+`
		FROM push_registrations WHERE device_id = $1`, deviceID))
}

func (s *PushStore) UnregisterPush(ctx context.Context, deviceID string) error {
	tag, err := s.db.Exec(ctx, `DELETE FROM push_registrations WHERE device_id = $1`, deviceID)
	if err != nil {
		return err
	} else if tag.RowsAffected() == 0 {
		return courier.Errorf(courier.ENOTFOUND, "no push registration")
	}
	return nil
}

func (s *PushStore) RemovePushToken(ctx context.Context, deviceID, token string) (bool, error) {
	tag, err := s.db.Exec(ctx, `DELETE FROM push_registrations WHERE device_id = $1 AND token = $2`, deviceID, token)
	return tag.RowsAffected() > 0, err
}

func (s *PushStore) DeviceForPushToken(ctx context.Context, token string) (*courier.Device, error) {
	if token == "" || len(token) > courier.MaxPushTokenLen {
		return nil, courier.Errorf(courier.EUNAUTHORIZED, "missing or malformed push token")
	}
	d := &courier.Device{}
	err := s.db.QueryRow(ctx, `SELECT d.id, d.user_id, d.name, d.created_at, d.last_seen_at
		FROM push_registrations p JOIN devices d ON d.id = p.device_id
		WHERE p.token = $1 AND d.revoked_at IS NULL`, token).
		Scan(&d.ID, &d.UserID, &d.Name, &d.CreatedAt, &d.LastSeenAt)
	if noRows(err) {
		return nil, courier.Errorf(courier.EUNAUTHORIZED, "unknown push token")
	}
	return d, err
}

func (s *PushStore) MuteConversation(ctx context.Context, userID, conversationID string, until time.Time) error {
	var arg any // NULL unmutes
	if !until.IsZero() {
		arg = until
	}
	tag, err := s.db.Exec(ctx, `UPDATE conversation_members SET muted_until = $3
		WHERE conversation_id = $1 AND user_id = $2 AND removed_seq IS NULL`, conversationID, userID, arg)
	if err != nil {
		return err
	} else if tag.RowsAffected() == 0 {
		return courier.Errorf(courier.ENOTFOUND, "conversation not found")
	}
	return nil
}
