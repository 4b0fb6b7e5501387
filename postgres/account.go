package postgres

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/courier-chat/courier"
)

var _ courier.AccountService = (*AccountService)(nil)

// Limits on what a client may store about itself.
const (
	maxNameLen       = 128
	maxDevicesOfUser = 32
)

// AccountService stores users and devices.
type AccountService struct {
	db *pgxpool.Pool
}

// NewAccountService returns an AccountService over db.
func NewAccountService(db *pgxpool.Pool) *AccountService {
	return &AccountService{db: db}
}

// newToken returns 256 random bits for the client and their hash for us.
func newToken() (token string, hash []byte) {
	var b [32]byte
	rand.Read(b[:])
	token = base64.RawURLEncoding.EncodeToString(b[:])
	return token, hashToken(token)
}

func hashToken(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

func checkName(what, name string) error {
	if len(name) > maxNameLen || strings.ContainsAny(name, "\x00") {
		return courier.Errorf(courier.EINVALID, "%s must be at most %d bytes of text", what, maxNameLen)
	}
	return nil
}

func (s *AccountService) CreateAccount(ctx context.Context, name, deviceName string) (_ *courier.User, _ *courier.Device, _ string, err error) {
	defer outage(&err)
	if err := checkName("name", name); err != nil {
		return nil, nil, "", err
	} else if err := checkName("device_name", deviceName); err != nil {
		return nil, nil, "", err
	}
	u := &courier.User{ID: courier.NewID(), Name: name}
	var d *courier.Device
	var token string
	err = pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `INSERT INTO users (id, name) VALUES ($1, $2) RETURNING created_at`,
			u.ID, u.Name).Scan(&u.CreatedAt)
		if err != nil {
			return err
		}
		d, token, err = insertDevice(ctx, tx, u.ID, deviceName)
		return err
	})
	if err != nil {
		return nil, nil, "", err
	}
	return u, d, token, nil
}

func (s *AccountService) CreateDevice(ctx context.Context, userID, name string) (_ *courier.Device, _ string, err error) {
	defer outage(&err)
	if err := checkName("name", name); err != nil {
		return nil, "", err
	}
	var d *courier.Device
	var token string
	err = pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		// Lock the user row so two concurrent adds cannot pass the limit.
		if _, err := tx.Exec(ctx, `SELECT 1 FROM users WHERE id = $1 FOR UPDATE`, userID); err != nil {
			return err
		}
		var n int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM devices WHERE user_id = $1 AND revoked_at IS NULL`,
			userID).Scan(&n); err != nil {
			return err
		}
		if n >= maxDevicesOfUser {
			return courier.Errorf(courier.ECONFLICT, "a user may have at most %d devices", maxDevicesOfUser)
		}
		var err error
		d, token, err = insertDevice(ctx, tx, userID, name)
		return err
	})
	if err != nil {
		return nil, "", err
	}
	return d, token, nil
}

func insertDevice(ctx context.Context, tx pgx.Tx, userID, name string) (*courier.Device, string, error) {
	d := &courier.Device{ID: courier.NewID(), UserID: userID, Name: name}
	token, hash := newToken()
	err := tx.QueryRow(ctx, `INSERT INTO devices (id, user_id, name, token_hash) VALUES ($1, $2, $3, $4)
		RETURNING created_at`, d.ID, userID, name, hash).Scan(&d.CreatedAt)
	if err != nil {
		return nil, "", err
	}
	return d, token, nil
}

func (s *AccountService) Devices(ctx context.Context, userID string) (_ []*courier.Device, err error) {
	defer outage(&err)
	rows, err := s.db.Query(ctx, `SELECT id, user_id, name, created_at, last_seen_at FROM devices
		WHERE user_id = $1 AND revoked_at IS NULL ORDER BY created_at, id`, userID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	devices := []*courier.Device{}
	for rows.Next() {
		d := &courier.Device{}
		if err := rows.Scan(&d.ID, &d.UserID, &d.Name, &d.CreatedAt, &d.LastSeenAt); err != nil {
			return nil, err
		}
		devices = append(devices, d)
	}
	return devices, rows.Err()
}

// DevicesOf lists the live devices of several users in one query, ordered
// by user, then as Devices orders them: the push check of a group message
// asks once for all its members.
func (s *AccountService) DevicesOf(ctx context.Context, userIDs []string) (_ []*courier.Device, err error) {
	defer outage(&err)
	rows, err := s.db.Query(ctx, `SELECT id, user_id, name, created_at, last_seen_at FROM devices
		WHERE user_id = ANY($1) AND revoked_at IS NULL ORDER BY user_id, created_at, id`, userIDs)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (*courier.Device, error) {
		d := &courier.Device{}
		err := row.Scan(&d.ID, &d.UserID, &d.Name, &d.CreatedAt, &d.LastSeenAt)
		return d, err
	})
}

func (s *AccountService) RevokeDevice(ctx context.Context, userID, deviceID string) (err error) {
	defer outage(&err)
	tag, err := s.db.Exec(ctx, `UPDATE devices SET revoked_at = now()
		WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL`, deviceID, userID)
	if err != nil {
		return err
	} else if tag.RowsAffected() == 0 {
		return courier.Errorf(courier.ENOTFOUND, "device not found")
	}
	return nil
}

// lastSeenEvery limits last_seen_at writes to one per device per minute, so
// authentication stays a read on the hot path.
const lastSeenEvery = time.Minute

func (s *AccountService) Authenticate(ctx context.Context, token string) (_ *courier.Device, err error) {
	defer outage(&err)
	if token == "" || len(token) > 128 {
		return nil, courier.Errorf(courier.EUNAUTHORIZED, "missing or malformed bearer token")
	}
	d := &courier.Device{}
	err = s.db.QueryRow(ctx, `SELECT id, user_id, name, created_at, last_seen_at FROM devices
		WHERE token_hash = $1 AND revoked_at IS NULL`, hashToken(token)).
		Scan(&d.ID, &d.UserID, &d.Name, &d.CreatedAt, &d.LastSeenAt)
	if noRows(err) {
		return nil, courier.Errorf(courier.EUNAUTHORIZED, "unknown or revoked token")
	} else if err != nil {
		return nil, err
	}
	if d.LastSeenAt == nil || time.Since(*d.LastSeenAt) > lastSeenEvery {
		// Best effort: a failed touch must not fail the request.
		_, _ = s.db.Exec(ctx, `UPDATE devices SET last_seen_at = now() WHERE id = $1`, d.ID)
	}
	return d, nil
}
