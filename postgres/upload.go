package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/courier-chat/courier"
)

// UploadStore keeps the uploads table (migrations 0002, 0004 and 0006):
// the upload endpoint's record of who owns an upload, its limits, expiry
// and state (upload.Uploads).
type UploadStore struct {
	db *pgxpool.Pool
}

// NewUploadStore returns an UploadStore over db.
func NewUploadStore(db *pgxpool.Pool) *UploadStore { return &UploadStore{db: db} }

const uploadColumns = `id, owner_id, coalesce(idempotency_key, ''), mode, size, state, multipart_id, expires_at`

func scanUpload(r pgx.Row) (*courier.Upload, error) {
	var u courier.Upload
	err := r.Scan(&u.ID, &u.OwnerID, &u.IdempotencyKey, &u.Mode, &u.Size, &u.State, &u.MultipartID, &u.ExpiresAt)
	if noRows(err) {
		return nil, courier.Errorf(courier.ENOTFOUND, "upload not found")
	}
	if err != nil {
		return nil, err
	}
	return &u, nil
}

// Upload returns the upload with id, or ENOTFOUND.
func (s *UploadStore) Upload(ctx context.Context, id string) (_ *courier.Upload, err error) {
	defer outage(&err)
	return scanUpload(s.db.QueryRow(ctx, `SELECT `+uploadColumns+` FROM uploads WHERE id = $1`, id))
}

// UploadByIdempotencyKey returns the owner's upload created with key, or
// ENOTFOUND.
func (s *UploadStore) UploadByIdempotencyKey(ctx context.Context, ownerID, key string) (_ *courier.Upload, err error) {
	defer outage(&err)
	return scanUpload(s.db.QueryRow(ctx, `SELECT `+uploadColumns+` FROM uploads
		WHERE owner_id = $1 AND idempotency_key = $2`, ownerID, key))
}

// CreateUpload inserts u if its owner stays within limits (ERATELIMIT for
// too many, ETOOLARGE for too many bytes). A transaction-scoped advisory
// lock on the owner makes check-and-insert atomic, so a burst of parallel
// creations cannot overshoot.
func (s *UploadStore) CreateUpload(ctx context.Context, u *courier.Upload, limits courier.UploadLimits) (err error) {
	defer outage(&err)
	tx, err := s.db.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('courier.uploads:' || $1))`, u.OwnerID); err != nil {
		return err
	}
	if u.IdempotencyKey != "" {
		// An idempotency key whose upload was cancelled, expired or failed
		// its checksum starts afresh (the endpoint skips such uploads), so
		// the old row gives the key up instead of blocking it forever.
		if _, err := tx.Exec(ctx, `UPDATE uploads SET idempotency_key = NULL WHERE owner_id = $1
			AND idempotency_key = $2 AND state IN ('expired', 'terminated')`, u.OwnerID, u.IdempotencyKey); err != nil {
			return err
		}
	}
	var count int
	var bytes int64
	// An upload whose length is not declared yet may grow to its mode's
	// limit, so it counts as that much: otherwise a client could hold any
	// number of them, each up to the limit. Finishing uploads no longer
	// count: their bytes are all in.
	err = tx.QueryRow(ctx, `SELECT count(*), coalesce(sum(CASE WHEN size >= 0 THEN size
		WHEN mode = 'e2e' THEN $2::bigint ELSE $3::bigint END), 0) FROM uploads
		WHERE owner_id = $1 AND state = 'active' AND expires_at > now()`,
		u.OwnerID, limits.MaxE2E, limits.MaxPlain).Scan(&count, &bytes)
	if err != nil {
		return err
	}
	if count >= limits.MaxCount {
		return courier.Errorf(courier.ERATELIMIT, "%d uploads in progress: finish or cancel one first", count)
	}
	size := u.Size
	if size < 0 && u.Mode == courier.BlobE2E {
		size = limits.MaxE2E
	} else if size < 0 {
		size = limits.MaxPlain
	}
	if bytes+size > limits.MaxBytes {
		return courier.Errorf(courier.ETOOLARGE, "uploads in progress would exceed %d bytes", limits.MaxBytes)
	}
	var key *string
	if u.IdempotencyKey != "" {
		key = &u.IdempotencyKey
	}
	_, err = tx.Exec(ctx, `INSERT INTO uploads (id, owner_id, idempotency_key, mode, size, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6)`, u.ID, u.OwnerID, key, string(u.Mode), u.Size, u.ExpiresAt)
	if isUniqueViolation(err) {
		return courier.Errorf(courier.ECONFLICT, "an upload with this idempotency key is being created; retry")
	} else if err != nil {
		return err
	}
	u.State = courier.UploadActive
	return tx.Commit(ctx)
}

// SetUploadMultipartID records the S3 multipart upload holding the bytes.
func (s *UploadStore) SetUploadMultipartID(ctx context.Context, id, multipartID string) (err error) {
	defer outage(&err)
	_, err = s.db.Exec(ctx, `UPDATE uploads SET multipart_id = $2 WHERE id = $1`, id, multipartID)
	return err
}

// SetUploadSize records a length declared late, so limits see it.
func (s *UploadStore) SetUploadSize(ctx context.Context, id string, size int64) (err error) {
	defer outage(&err)
	_, err = s.db.Exec(ctx, `UPDATE uploads SET size = $2 WHERE id = $1`, id, size)
	return err
}

// MoveUpload moves an upload from one of the states from to state to, and
// reports whether it moved: two requests finishing the same upload, or a
// request and the reconciler, see one of them win.
func (s *UploadStore) MoveUpload(ctx context.Context, id string, to courier.UploadState, from ...courier.UploadState) (_ bool, err error) {
	defer outage(&err)
	states := make([]string, len(from))
	for i, st := range from {
		states[i] = string(st)
	}
	tag, err := s.db.Exec(ctx, `UPDATE uploads SET state = $2, state_changed_at = now()
		WHERE id = $1 AND state = ANY($3)`, id, string(to), states)
	return tag.RowsAffected() == 1, err
}

// ExtendUpload moves an active upload's expiry to until, when that is more
// than step later than now set: an upload in progress lives its expiry
// past its last append, at the cost of one write per step at most.
func (s *UploadStore) ExtendUpload(ctx context.Context, id string, until time.Time, step time.Duration) (_ bool, err error) {
	defer outage(&err)
	tag, err := s.db.Exec(ctx, `UPDATE uploads SET expires_at = $2
		WHERE id = $1 AND state = 'active' AND expires_at > now()
			AND expires_at < $2::timestamptz - $3::interval`, id, until, step)
	return tag.RowsAffected() == 1, err
}

// ExpiredUploads returns up to limit uploads whose time is up: active ones
// to abort, and finished ones whose tus bookkeeping is still around.
func (s *UploadStore) ExpiredUploads(ctx context.Context, limit int) (_ []*courier.Upload, err error) {
	defer outage(&err)
	return s.list(ctx, `SELECT `+uploadColumns+` FROM uploads
		WHERE state IN ('active', 'finished') AND expires_at <= now()
		ORDER BY expires_at LIMIT $1`, limit)
}

// RetireUpload marks a swept upload: active ones become expired; finished
// ones stay finished but leave the sweep (their expiry moves to infinity).
func (s *UploadStore) RetireUpload(ctx context.Context, u *courier.Upload) (err error) {
	defer outage(&err)
	if u.State == courier.UploadActive {
		_, err := s.MoveUpload(ctx, u.ID, courier.UploadExpired, courier.UploadActive)
		return err
	}
	_, err = s.db.Exec(ctx, `UPDATE uploads SET expires_at = 'infinity' WHERE id = $1`, u.ID)
	return err
}

// StrandedUploads returns up to limit uploads that have been finishing
// for longer than age: whoever finished them stopped.
func (s *UploadStore) StrandedUploads(ctx context.Context, age time.Duration, limit int) (_ []*courier.Upload, err error) {
	defer outage(&err)
	return s.list(ctx, `SELECT `+uploadColumns+` FROM uploads
		WHERE state = 'finishing' AND state_changed_at < now() - $2::interval
		ORDER BY state_changed_at LIMIT $1`, limit, age)
}

// StaleProcessingBlobs returns the IDs of up to limit plain blobs that
// have been processing, untouched, for longer than age: their job may be
// lost (Redis restarted without persistence), and re-enqueuing is
// harmless (a queued or retained job refuses the duplicate).
func (s *UploadStore) StaleProcessingBlobs(ctx context.Context, age time.Duration, limit int) (_ []string, err error) {
	defer outage(&err)
	rows, err := s.db.Query(ctx, `SELECT id FROM blobs
		WHERE state = 'processing' AND updated_at < now() - $2::interval
		ORDER BY updated_at LIMIT $1`, limit, age)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

func (s *UploadStore) list(ctx context.Context, query string, args ...any) ([]*courier.Upload, error) {
	rows, err := s.db.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*courier.Upload
	for rows.Next() {
		u, err := scanUpload(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, rows.Err()
}
