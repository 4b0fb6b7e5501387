package api

import (
	"context"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"

	"github.com/courier-chat/courier"
)

// ObjectReader streams stored objects; Courier's s3.Client is one. With
// length > 0 only bytes [offset, offset+length) are read.
type ObjectReader interface {
	Get(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error)
}

// MountMedia registers the download routes:
//
//	GET /v1/media/{blobID}            the original
//	GET /v1/media/{blobID}/{variant}  a variant (thumb, preview, poster, mp4…)
//	GET /v1/media/{blobID}/info       the blob as JSON
//
// Access is courier.BlobStore.CanReadBlob and nothing else; an unknown blob
// and a forbidden one answer the same 404, so IDs cannot be probed.
func (s *Server) MountMedia(blobs courier.BlobStore, objects ObjectReader) {
	m := &media{blobs: blobs, objects: objects}
	s.Handle("GET /v1/media/{blobID}", s.Authenticated(http.HandlerFunc(m.serveOriginal)))
	s.Handle("GET /v1/media/{blobID}/info", s.Authenticated(http.HandlerFunc(m.serveInfo)))
	s.Handle("GET /v1/media/{blobID}/{variant}", s.Authenticated(http.HandlerFunc(m.serveVariant)))
}

type media struct {
	blobs   courier.BlobStore
	objects ObjectReader
}

// readableBlob loads a blob the user may read, or ENOTFOUND.
func (m *media) readableBlob(r *http.Request) (*courier.Blob, error) {
	id := r.PathValue("blobID")
	notFound := courier.Errorf(courier.ENOTFOUND, "blob not found")
	if !courier.ValidID(id) {
		return nil, notFound
	}
	ok, err := m.blobs.CanReadBlob(r.Context(), courier.DeviceFromContext(r.Context()).UserID, id)
	if err != nil {
		return nil, err
	} else if !ok {
		return nil, notFound
	}
	return m.blobs.Blob(r.Context(), id)
}

func (m *media) serveInfo(w http.ResponseWriter, r *http.Request) {
	b, err := m.readableBlob(r)
	if err != nil {
		Error(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "private, no-cache") // state changes as workers run
	JSON(w, http.StatusOK, b)
}

func (m *media) serveOriginal(w http.ResponseWriter, r *http.Request) {
	b, err := m.readableBlob(r)
	if err != nil {
		Error(w, r, err)
		return
	}
	// Plain photos are served as the worker left them: the "original"
	// variant, the same picture without GPS and other metadata.
	if v := b.Variant("original"); v != nil {
		name := b.Filename
		if v.ContentType != b.ContentType { // HEIC, TIFF… are served as JPEG
			name = strings.TrimSuffix(name, path.Ext(name)) + path.Ext(variantFilename(b.Filename, v))
		}
		m.serve(w, r, object{key: v.Key, size: v.Size, contentType: v.ContentType,
			etag: `"` + b.ID + `.original"`, filename: name})
		return
	}
	if b.Mode == courier.BlobPlain && b.OwnerID != courier.DeviceFromContext(r.Context()).UserID {
		// Anyone but the owner gets the upload as sent only when the
		// worker has read its bytes and found nothing that carries a
		// location: audio, or a file that is no photo or video. Whatever
		// the uploader declared, a blob still processing, one that failed
		// (a photo that would not decode may carry GPS all the same) and a
		// photo without its stripped original wait for media.ready.
		switch {
		case b.State == courier.BlobReady && b.Kind == courier.KindVideo:
			// Others get the worker's MP4 (transcoded, or the original
			// stream-copied without metadata), never a filming location.
			v := b.Variant("mp4")
			if v == nil {
				Error(w, r, courier.Errorf(courier.ECONFLICT, "video %s has no shareable copy yet; wait for media.ready", b.ID))
				return
			}
			name := strings.TrimSuffix(b.Filename, path.Ext(b.Filename)) + ".mp4"
			m.serve(w, r, object{key: v.Key, size: v.Size, contentType: "video/mp4",
				etag: `"` + b.ID + `.mp4"`, filename: name})
			return
		case b.State != courier.BlobReady || (b.Kind != courier.KindAudio && b.Kind != courier.KindOther):
			Error(w, r, courier.Errorf(courier.ECONFLICT, "blob %s is %s and not shared as uploaded; wait for media.ready", b.ID, b.State))
			return
		}
	}
	m.serve(w, r, object{key: b.StorageKey, size: b.Size, contentType: b.ContentType,
		etag: `"` + b.ID + `"`, filename: b.Filename})
}

func (m *media) serveVariant(w http.ResponseWriter, r *http.Request) {
	b, err := m.readableBlob(r)
	if err != nil {
		Error(w, r, err)
		return
	}
	name := r.PathValue("variant")
	v := b.Variant(name)
	if v == nil {
		Error(w, r, courier.Errorf(courier.ENOTFOUND, "blob %s has no variant %q (yet)", b.ID, name))
		return
	}
	m.serve(w, r, object{key: v.Key, size: v.Size, contentType: v.ContentType,
		etag: `"` + b.ID + "." + v.Name + `"`, filename: variantFilename(b.Filename, v)})
}

// object is what one download serves.
type object struct {
	key, contentType, etag, filename string
	size                             int64
}

// serve streams o with conditional and single-range support. Blob and
// variant bytes never change once written, so the ETag is derived from
// the IDs and caches may keep them for good (privately: they are not
// public).
func (m *media) serve(w http.ResponseWriter, r *http.Request, o object) {
	h := w.Header()
	h.Set("ETag", o.etag)
	h.Set("Cache-Control", "private, max-age=31536000, immutable")
	h.Set("Accept-Ranges", "bytes")
	h.Set("X-Content-Type-Options", "nosniff")
	// Media is never a page: no scripts even if someone uploads HTML.
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	if etagMatch(r.Header.Get("If-None-Match"), o.etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	offset, length, status := int64(0), o.size, http.StatusOK
	if rh := r.Header.Get("Range"); rh != "" && ifRangeOK(r.Header.Get("If-Range"), o.etag) {
		start, n, ok, satisfiable := parseRange(rh, o.size)
		if !satisfiable {
			h.Set("Content-Range", "bytes */"+strconv.FormatInt(o.size, 10))
			var body ErrorBody
			body.Error.Code, body.Error.Message = courier.EINVALID, "range not satisfiable"
			JSON(w, http.StatusRequestedRangeNotSatisfiable, body)
			return
		}
		if ok {
			offset, length, status = start, n, http.StatusPartialContent
			h.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", start, start+n-1, o.size))
		}
	}
	ct := o.contentType
	if ct == "" {
		ct = "application/octet-stream"
	}
	h.Set("Content-Type", ct)
	h.Set("Content-Disposition", contentDisposition(ct, o.filename))

	h.Set("Content-Length", strconv.FormatInt(length, 10))
	if r.Method == http.MethodHead || length == 0 {
		w.WriteHeader(status)
		return
	}
	body, err := m.objects.Get(r.Context(), o.key, offset, length)
	if err != nil {
		h.Del("Content-Range")
		h.Del("Content-Length")
		h.Del("Content-Disposition")
		Error(w, r, err)
		return
	}
	defer body.Close()
	w.WriteHeader(status)
	// io.Copy moves 32 KiB at a time: memory stays flat for any size.
	if _, err := io.Copy(w, body); err != nil {
		courier.Logger(r.Context()).Info("download interrupted", "key", o.key, "err", err)
	}
}

// inlineTypes may be shown by a browser; anything else is an attachment.
var inlineTypes = map[string]bool{
	"image/jpeg": true, "image/png": true, "image/gif": true, "image/webp": true, "image/heic": true,
	"image/heif": true, "image/avif": true, "video/mp4": true, "video/quicktime": true, "video/webm": true,
	"audio/mpeg": true, "audio/mp4": true, "audio/aac": true, "audio/ogg": true, "text/plain": true,
}

// contentDisposition returns an RFC 6266 value with the filename both as a
// plain ASCII fallback and RFC 5987 UTF-8 (filename*).
func contentDisposition(contentType, filename string) string {
	disp := "attachment"
	if mt, _, _ := mime.ParseMediaType(contentType); inlineTypes[mt] {
		disp = "inline"
	}
	name := sanitizeFilename(filename)
	if name == "" {
		return disp
	}
	ascii := strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e || r == '"' || r == '\\' || r == '%' {
			return '_'
		}
		return r
	}, name)
	return disp + `; filename="` + ascii + `"; filename*=UTF-8''` + url.PathEscape(name)
}

// sanitizeFilename keeps the last path element and drops control
// characters, so a filename can neither traverse paths on save nor break
// the header.
func sanitizeFilename(name string) string {
	name = strings.ReplaceAll(name, `\`, "/")
	name = path.Base(name)
	name = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, name)
	if name == "." || name == "/" || name == ".." {
		return ""
	}
	return strings.TrimSpace(name)
}

// variantFilename names a variant after its original: IMG_1.heic's thumb
// is IMG_1-thumb.jpg.
func variantFilename(original string, v *courier.Variant) string {
	stem := strings.TrimSuffix(sanitizeFilename(original), path.Ext(original))
	if stem == "" {
		stem = "media"
	}
	ext := ""
	if exts, _ := mime.ExtensionsByType(v.ContentType); len(exts) > 0 {
		ext = exts[0]
	}
	switch v.ContentType {
	case "image/jpeg":
		ext = ".jpg"
	case "video/mp4":
		ext = ".mp4"
	}
	return stem + "-" + v.Name + ext
}
