package postgres

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/courier-chat/courier"
)

var _ courier.BlobStore = (*BlobStore)(nil)

// BlobStore keeps blob rows.
type BlobStore struct {
	db *pgxpool.Pool
}

// NewBlobStore returns a BlobStore over db.
func NewBlobStore(db *pgxpool.Pool) *BlobStore {
	return &BlobStore{db: db}
}

func (s *BlobStore) CreateBlob(ctx context.Context, b *courier.Blob) (_ bool, err error) {
	defer outage(&err)
	if b.Variants == nil {
		b.Variants = []courier.Variant{}
	}
	variants, err := json.Marshal(b.Variants)
	if err != nil {
		return false, err
	}
	// ON CONFLICT DO NOTHING makes a retried finish hook harmless.
	tag, err := s.db.Exec(ctx, `INSERT INTO blobs
		(id, owner_id, mode, state, size, content_type, filename, sha256, storage_key, variants)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
		ON CONFLICT (id) DO NOTHING`,
		b.ID, b.OwnerID, b.Mode, b.State, b.Size, b.ContentType, b.Filename, b.SHA256, b.StorageKey, variants)
	if err != nil {
		return false, err
	}
	return tag.RowsAffected() == 1, nil
}

func (s *BlobStore) Blob(ctx context.Context, id string) (_ *courier.Blob, err error) {
	defer outage(&err)
	b := &courier.Blob{}
	var variants []byte
	err = s.db.QueryRow(ctx, `SELECT id, owner_id, mode, state, size, content_type, filename, sha256,
		storage_key, width, height, duration_ms, blurhash, variants, fail_reason, created_at, updated_at,
		video_codec, audio_codec, rotation, kind
		FROM blobs WHERE id = $1`, id).Scan(&b.ID, &b.OwnerID, &b.Mode, &b.State, &b.Size, &b.ContentType,
		&b.Filename, &b.SHA256, &b.StorageKey, &b.Width, &b.Height, &b.DurationMS, &b.Blurhash, &variants,
		&b.FailReason, &b.CreatedAt, &b.UpdatedAt, &b.VideoCodec, &b.AudioCodec, &b.Rotation, &b.Kind)
	if noRows(err) {
		return nil, courier.Errorf(courier.ENOTFOUND, "blob not found")
	} else if err != nil {
		return nil, err
	}
	// Keys are not in the JSON clients see, so they are stored separately.
	var stored []storedVariant
	if err := json.Unmarshal(variants, &stored); err != nil {
		return nil, err
	}
	for _, v := range stored {
		v.Variant.Key = v.Key
		b.Variants = append(b.Variants, v.Variant)
	}
	if b.Variants == nil {
		b.Variants = []courier.Variant{}
	}
	return b, nil
}

// storedVariant is a Variant as kept in the variants column, key included.
type storedVariant struct {
	courier.Variant
	Key string `json:"key"`
}

func (s *BlobStore) FinishBlob(ctx context.Context, b *courier.Blob) (err error) {
	defer outage(&err)
	stored := make([]storedVariant, 0, len(b.Variants))
	for _, v := range b.Variants {
		stored = append(stored, storedVariant{Variant: v, Key: v.Key})
	}
	variants, err := json.Marshal(stored)
	if err != nil {
		return err
	}
	tag, err := s.db.Exec(ctx, `UPDATE blobs SET state = $2, width = $3, height = $4, duration_ms = $5,
		blurhash = $6, variants = $7, fail_reason = $8, video_codec = $9, audio_codec = $10, rotation = $11,
		kind = $12, updated_at = now() WHERE id = $1`,
		b.ID, b.State, b.Width, b.Height, b.DurationMS, b.Blurhash, variants, b.FailReason,
		b.VideoCodec, b.AudioCodec, b.Rotation, b.Kind)
	if err != nil {
		return err
	} else if tag.RowsAffected() == 0 {
		return courier.Errorf(courier.ENOTFOUND, "blob not found")
	}
	return nil
}

// canReadBlobSQL is the download rule as an SQL condition over a blob ID
// and a user ID (placeholders or column names): the owner may read a blob,
// and so may a member of a conversation holding a message that lists it as
// an attachment — if the member may see that message, that is, it was sent
// after they joined and not after they were removed. MessageStore.Send
// applies the same rule to the attachments a sender lists.
func canReadBlobSQL(blob, user string) string {
	return fmt.Sprintf(`/* scatter: the conversations that hold a blob, for the download rule */
		(EXISTS (SELECT 1 FROM blobs WHERE id = %[1]s AND owner_id = %[2]s)
		OR EXISTS (SELECT 1 FROM message_attachments a JOIN conversation_members m
			ON m.conversation_id = a.conversation_id AND m.user_id = %[2]s
			WHERE a.blob_id = %[1]s AND a.seq > m.from_seq
			AND (m.removed_seq IS NULL OR a.seq <= m.removed_seq)))`, blob, user)
}

var canReadBlobQuery = `SELECT ` + canReadBlobSQL("$1", "$2")

func (s *BlobStore) CanReadBlob(ctx context.Context, userID, blobID string) (_ bool, err error) {
	defer outage(&err)
	var ok bool
	err = s.db.QueryRow(ctx, canReadBlobQuery, blobID, userID).Scan(&ok)
	return ok, err
}
