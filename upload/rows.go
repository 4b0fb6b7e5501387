package upload

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/courier-chat/courier"
)

// Upload states, as in the uploads table.
const (
	stateActive     = "active"
	stateFinished   = "finished"
	stateExpired    = "expired"
	stateTerminated = "terminated"
)

// row is one upload in the uploads table: who owns it, for limits,
// ownership checks, idempotent creation and expiry.
type row struct {
	ID          string
	OwnerID     string
	IdemKey     *string
	Mode        string
	Size        int64 // -1 while the length is deferred
	State       string
	MultipartID string
	ExpiresAt   time.Time
}

// rows is the SQL over the uploads table (migrations 0002 and 0004).
type rows struct{ db *pgxpool.Pool }

const rowColumns = `id, owner_id, idempotency_key, mode, size, state, multipart_id, expires_at`

func scanRow(r pgx.Row) (*row, error) {
	var u row
	err := r.Scan(&u.ID, &u.OwnerID, &u.IdemKey, &u.Mode, &u.Size, &u.State, &u.MultipartID, &u.ExpiresAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, courier.Errorf(courier.ENOTFOUND, "upload not found")
	}
	return &u, err
}

func (s rows) get(ctx context.Context, id string) (*row, error) {
	return scanRow(s.db.QueryRow(ctx, `SELECT `+rowColumns+` FROM uploads WHERE id = $1`, id))
}

func (s rows) byIdempotencyKey(ctx context.Context, ownerID, key string) (*row, error) {
	return scanRow(s.db.QueryRow(ctx, `SELECT `+rowColumns+` FROM uploads
		WHERE owner_id = $1 AND idempotency_key = $2`, ownerID, key))
}

// create inserts u if the owner stays within the limits. A transaction-scoped
// advisory lock on the owner makes check-and-insert atomic, so a burst of
// parallel creations cannot overshoot.
func (s rows) create(ctx context.Context, u *row, maxCount int, maxBytes, maxPlain, maxE2E int64) error {
	tx, err := s.db.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('courier.uploads:' || $1))`, u.OwnerID); err != nil {
		return err
	}
	if u.IdemKey != nil {
		// An idempotency key whose upload was cancelled, expired or failed
		// its checksum starts afresh (answerRepeat skips such rows), so
		// the old row gives the key up instead of blocking it forever.
		if _, err := tx.Exec(ctx, `UPDATE uploads SET idempotency_key = NULL WHERE owner_id = $1
			AND idempotency_key = $2 AND state IN ('expired', 'terminated')`, u.OwnerID, *u.IdemKey); err != nil {
			return err
		}
	}
	var count int
	var bytes int64
	// An upload whose length is not declared yet (tus Upload-Defer-Length,
	// the IETF draft before Upload-Complete) may grow to its mode's limit,
	// so it counts as that much: otherwise a client could hold any number
	// of them, each up to the limit.
	err = tx.QueryRow(ctx, `SELECT count(*), coalesce(sum(CASE WHEN size >= 0 THEN size
		WHEN mode = 'e2e' THEN $2::bigint ELSE $3::bigint END), 0) FROM uploads
		WHERE owner_id = $1 AND state = 'active' AND expires_at > now()`, u.OwnerID, maxE2E, maxPlain).Scan(&count, &bytes)
	if err != nil {
		return err
	}
	if count >= maxCount {
		return courier.Errorf(courier.ERATELIMIT, "%d uploads in progress: finish or cancel one first", count)
	}
	size := u.Size
	if size < 0 && u.Mode == "e2e" {
		size = maxE2E
	} else if size < 0 {
		size = maxPlain
	}
	if bytes+size > maxBytes {
		return courier.Errorf(courier.ETOOLARGE, "uploads in progress would exceed %d bytes", maxBytes)
	}
	_, err = tx.Exec(ctx, `INSERT INTO uploads (id, owner_id, idempotency_key, mode, size, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6)`, u.ID, u.OwnerID, u.IdemKey, u.Mode, u.Size, u.ExpiresAt)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" {
		return courier.Errorf(courier.ECONFLICT, "an upload with this idempotency key is being created; retry")
	} else if err != nil {
		return err
	}
	return tx.Commit(ctx)
}

func (s rows) setMultipartID(ctx context.Context, id, multipartID string) error {
	_, err := s.db.Exec(ctx, `UPDATE uploads SET multipart_id = $2 WHERE id = $1`, id, multipartID)
	return err
}

func (s rows) setSize(ctx context.Context, id string, size int64) error {
	_, err := s.db.Exec(ctx, `UPDATE uploads SET size = $2 WHERE id = $1`, id, size)
	return err
}

// setState moves an upload to state; finishing is allowed only from active
// (a retried finish finds it finished already and changes nothing).
func (s rows) setState(ctx context.Context, id, state string) error {
	_, err := s.db.Exec(ctx, `UPDATE uploads SET state = $2 WHERE id = $1`, id, state)
	return err
}

// extend moves an active upload's expiry to until, when that is more than
// step later than now set: an upload in progress lives Expiry past its
// last PATCH, at the cost of one write per step at most.
func (s rows) extend(ctx context.Context, id string, until time.Time, step time.Duration) (bool, error) {
	tag, err := s.db.Exec(ctx, `UPDATE uploads SET expires_at = $2
		WHERE id = $1 AND state = 'active' AND expires_at > now()
			AND expires_at < $2::timestamptz - $3::interval`, id, until, step)
	return tag.RowsAffected() == 1, err
}

// expired returns up to limit uploads whose time is up: active ones to
// abort, and finished ones whose tus bookkeeping (.info) is still around.
func (s rows) expired(ctx context.Context, limit int) ([]*row, error) {
	rs, err := s.db.Query(ctx, `SELECT `+rowColumns+` FROM uploads
		WHERE state IN ('active', 'finished') AND expires_at <= now()
		ORDER BY expires_at LIMIT $1`, limit)
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	var out []*row
	for rs.Next() {
		u, err := scanRow(rs)
		if err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, rs.Err()
}

// retire marks a swept upload: active ones become expired; finished ones
// stay finished but leave the sweep (their expiry moves to infinity).
func (s rows) retire(ctx context.Context, u *row) error {
	if u.State == stateActive {
		return s.setState(ctx, u.ID, stateExpired)
	}
	_, err := s.db.Exec(ctx, `UPDATE uploads SET expires_at = 'infinity' WHERE id = $1`, u.ID)
	return err
}
