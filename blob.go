package courier

import (
	"context"
	"time"
)

// BlobMode is chosen by the uploader when the upload is created.
type BlobMode string

const (
	// BlobPlain media may be read by the server: workers make variants.
	BlobPlain BlobMode = "plain"
	// BlobE2E media is ciphertext: stored and served as is, no variants.
	BlobE2E BlobMode = "e2e"
)

// BlobState is where a blob is in its life after the upload finished.
type BlobState string

const (
	BlobProcessing BlobState = "processing" // waiting for or inside a worker
	BlobReady      BlobState = "ready"      // variants (if any) are written
	BlobFailed     BlobState = "failed"     // bad media; FailReason says why
)

// BlobKind is what a plain blob's bytes are, as the media worker found
// them (container signatures, then ffprobe), whatever the uploader
// declared.
type BlobKind string

const (
	KindPhoto BlobKind = "photo" // a format thumbnails decodes
	KindVideo BlobKind = "video" // ffprobe found a video stream
	KindAudio BlobKind = "audio" // ffprobe found audio only
	KindOther BlobKind = "other" // none of those: a document, an archive…
)

// Blob is one uploaded object. Its ID is the upload's ID; clients never see
// storage keys.
type Blob struct {
	ID          string    `json:"blob_id"`
	OwnerID     string    `json:"owner_id"`
	Mode        BlobMode  `json:"mode"`
	State       BlobState `json:"state"`
	Size        int64     `json:"size"`
	ContentType string    `json:"content_type"`
	Filename    string    `json:"filename"`
	SHA256      string    `json:"sha256,omitempty"`
	StorageKey  string    `json:"-"`

	// Filled in by workers for plain media.

	// Kind is what the worker found in the bytes; empty until it looked
	// (while processing, for e2e blobs, and for a blob that failed before
	// its bytes could be read). Downloads and every other privacy decision
	// go by it, never by ContentType, which is only what the uploader
	// declared.
	Kind       BlobKind  `json:"kind,omitempty"`
	Width      int       `json:"width,omitempty"`
	Height     int       `json:"height,omitempty"`
	DurationMS int64     `json:"duration_ms,omitempty"`
	Blurhash   string    `json:"blurhash,omitempty"`
	Variants   []Variant `json:"variants"`
	FailReason string    `json:"fail_reason,omitempty"`

	// Video and audio: ffprobe's codec names of the first streams ("h264",
	// "hevc", "vp9"; "aac", "opus"), and the clockwise rotation (0, 90,
	// 180, 270) players apply to the stored frames; Width and Height are
	// the displayed size, after it.
	VideoCodec string `json:"video_codec,omitempty"`
	AudioCodec string `json:"audio_codec,omitempty"`
	Rotation   int    `json:"rotation,omitempty"`

	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Variant returns the variant with the given name, or nil.
func (b *Blob) Variant(name string) *Variant {
	for i := range b.Variants {
		if b.Variants[i].Name == name {
			return &b.Variants[i]
		}
	}
	return nil
}

// Variant is a derived object: a thumbnail, a preview, a poster, an MP4.
type Variant struct {
	Name        string `json:"name"`
	Key         string `json:"-"`
	Size        int64  `json:"size"`
	ContentType string `json:"content_type"`
	Width       int    `json:"width,omitempty"`
	Height      int    `json:"height,omitempty"`
}

// BlobStore keeps blob rows.
type BlobStore interface {
	// CreateBlob inserts b. Creating a blob whose ID exists already is not
	// an error and changes nothing: a retried upload finish is harmless.
	// It reports whether the row was new.
	CreateBlob(ctx context.Context, b *Blob) (created bool, err error)

	// Blob returns a blob by ID, or ENOTFOUND.
	Blob(ctx context.Context, id string) (*Blob, error)

	// FinishBlob records the outcome of processing: state, dimensions,
	// variants, failure reason.
	FinishBlob(ctx context.Context, b *Blob) error

	// CanReadBlob reports whether userID may download the blob: the owner,
	// or a member of a conversation holding a message that lists it. This
	// is the one place that rule lives.
	CanReadBlob(ctx context.Context, userID, blobID string) (bool, error)
}
