package upload

import (
	"bytes"
	"context"
	"io"
	"strings"

	"github.com/tus/tusd/v2/pkg/handler"
	"github.com/tus/tusd/v2/pkg/s3store"

	"github.com/courier-chat/courier"
)

// store is the tusd DataStore Courier hands to tusd and to the draft
// handler: s3store underneath, with upload IDs that are blob IDs.
//
// s3store names an upload "<object>+<multipart upload ID>", and that name
// would become the last segment of the upload URL. Courier's upload URL and
// blob ID are the object part alone, so store keeps the multipart ID in the
// uploads row and joins the two again on the way in.
type store struct {
	s3      s3store.S3Store
	uploads Uploads
	// finish finishes an upload found complete on load (Handler.finishStored).
	finish func(ctx context.Context, up *s3Upload, info handler.FileInfo) error
}

var (
	_ handler.DataStore               = (*store)(nil)
	_ handler.TerminaterDataStore     = (*store)(nil)
	_ handler.LengthDeferrerDataStore = (*store)(nil)
)

// useIn registers the store and its extensions with a composer. No
// concatenation: parallel partial uploads make no sense from a phone.
func (s *store) useIn(c *handler.StoreComposer) {
	c.UseCore(s)
	c.UseTerminater(s)
	c.UseLengthDeferrer(s)
}

func (s *store) NewUpload(ctx context.Context, info handler.FileInfo) (handler.Upload, error) {
	up, err := s.s3.NewUpload(ctx, info)
	if err != nil && ctx.Err() == nil {
		// s3store flattens the SDK's error into text (%s), so it cannot
		// be told apart: creating the multipart upload or the .info
		// failing is S3 not serving, and the cause goes to the log.
		return nil, tusError(courier.Unavailable("storage", err))
	} else if err != nil {
		return nil, storeError(err)
	}
	full, err := up.GetInfo(ctx) // cached by s3store: no request
	if err != nil {
		return nil, err
	}
	id, multipartID, _ := strings.Cut(full.ID, "+")
	if err := s.uploads.SetUploadMultipartID(ctx, id, multipartID); err != nil {
		return nil, tusError(classify("database", err))
	}
	return &s3Upload{Upload: up, id: id, multipartID: multipartID, store: s}, nil
}

// GetUpload loads an upload, and finishes it when every byte is stored
// but the finish did not run to its end (finish.go): every request that
// touches such an upload completes it before answering.
func (s *store) GetUpload(ctx context.Context, id string) (handler.Upload, error) {
	up, err := s.load(ctx, id)
	if err != nil {
		return nil, err
	}
	if u := rowFromContext(ctx, id); u != nil && u.State == courier.UploadFinished {
		return up, nil
	}
	info, err := up.GetInfo(ctx) // what the caller asks next: cached
	if err != nil {
		return nil, err
	}
	if !info.SizeIsDeferred && info.Offset == info.Size && s.finish != nil {
		if err := s.finish(ctx, up, info); err != nil {
			return nil, tusError(err)
		}
	}
	return up, nil
}

// load returns the upload without finishing it.
func (s *store) load(ctx context.Context, id string) (*s3Upload, error) {
	u := rowFromContext(ctx, id)
	if u == nil {
		var err error
		if u, err = s.uploads.Upload(ctx, id); err != nil {
			return nil, handler.ErrNotFound
		}
	}
	if u.MultipartID == "" {
		// Creation failed between the row and the multipart upload.
		return nil, handler.ErrNotFound
	}
	up := &s3Upload{id: id, multipartID: u.MultipartID, store: s}
	if err := up.reload(ctx); err != nil {
		return nil, err
	}
	return up, nil
}

func (s *store) AsTerminatableUpload(up handler.Upload) handler.TerminatableUpload {
	return terminator{s.s3.AsTerminatableUpload(up.(*s3Upload).Upload)}
}

type terminator struct{ inner handler.TerminatableUpload }

func (t terminator) Terminate(ctx context.Context) error { return storeError(t.inner.Terminate(ctx)) }

func (s *store) AsLengthDeclarableUpload(up handler.Upload) handler.LengthDeclarableUpload {
	return lengthDeclarer{up: up.(*s3Upload)}
}

// s3Upload is an s3store upload that reports the blob ID as its ID. Its
// inner upload may be replaced by a fresh one (see DeclareLength): callers
// keep the wrapper, so later calls reach the fresh one.
type s3Upload struct {
	handler.Upload
	id          string
	multipartID string
	store       *store
}

func (u *s3Upload) GetInfo(ctx context.Context) (handler.FileInfo, error) {
	info, err := u.Upload.GetInfo(ctx)
	info.ID = u.id
	return info, storeError(err)
}

func (u *s3Upload) WriteChunk(ctx context.Context, offset int64, src io.Reader) (int64, error) {
	n, err := u.Upload.WriteChunk(ctx, offset, src)
	return n, storeError(err)
}

// storeError is what tusd and the draft handler get from S3: an outage as
// 503, anything else as an internal error, never the SDK's text (it names
// the endpoint, bucket, key and multipart upload ID).
func storeError(err error) error { return tusError(classify("storage", err)) }

// reload replaces the inner upload with one that reads its state (parts,
// tail, .info) from S3 again on first use.
func (u *s3Upload) reload(ctx context.Context) error {
	fresh, err := u.store.s3.GetUpload(ctx, u.id+"+"+u.multipartID)
	if err != nil {
		return err
	}
	u.Upload = fresh
	return nil
}

// lengthDeclarer also records a late length in the row, so per-user byte
// limits see it.
type lengthDeclarer struct{ up *s3Upload }

// DeclareLength works around two things in s3store 2.9. While the length is
// deferred it keeps a tail shorter than an S3 part in the .part object, and
// if the length is then declared equal to the offset (the draft's
// "Upload-Complete: ?1" on a deferred upload), FinishUpload completes the
// multipart upload without that tail: an empty write after the declaration
// makes s3store move the tail into a final part, as it does when the length
// was known. And an s3store upload object caches its tail size from before
// the chunk it just wrote (a chunk that took the tail into a full part
// leaves it claiming a tail that is gone), so the declaration runs on a
// fresh object that reads the parts and the tail from S3.
func (l lengthDeclarer) DeclareLength(ctx context.Context, length int64) error {
	if err := l.up.reload(ctx); err != nil {
		return err
	}
	if err := l.up.store.s3.AsLengthDeclarableUpload(l.up.Upload).DeclareLength(ctx, length); err != nil {
		return storeError(err)
	}
	info, err := l.up.GetInfo(ctx)
	if err != nil {
		return err
	}
	if info.Offset == length {
		if _, err := l.up.WriteChunk(ctx, info.Offset, bytes.NewReader(nil)); err != nil {
			return err
		}
	}
	return tusError(classify("database", l.up.store.uploads.SetUploadSize(ctx, l.up.id, length)))
}
