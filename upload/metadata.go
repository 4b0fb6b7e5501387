package upload

import (
	"encoding/base64"
	"encoding/hex"
	"mime"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/courier-chat/courier"
)

// Limits on metadata values: a phone has no reason to send more, and every
// value ends up in a database row and in response headers.
const (
	maxFilename       = 255
	maxFiletype       = 127
	maxIdempotencyKey = 128
	maxMetadataHeader = 4 << 10
)

// Metadata is what a client says about an upload when it creates it.
type Metadata struct {
	Filename       string
	Filetype       string // a MIME type; "application/octet-stream" when absent
	Mode           courier.BlobMode
	SHA256         string // lower-case hex, or ""
	IdempotencyKey string
}

// ParseMetadataHeader parses a tus Upload-Metadata header ("key base64,key
// base64") strictly: malformed pairs and invalid base64 are errors instead
// of being skipped as tusd does, so a client learns about its bug.
func ParseMetadataHeader(h string) (map[string]string, error) {
	m := map[string]string{}
	if strings.TrimSpace(h) == "" {
		return m, nil
	}
	if len(h) > maxMetadataHeader {
		return nil, courier.Errorf(courier.EINVALID, "Upload-Metadata over %d bytes", maxMetadataHeader)
	}
	for pair := range strings.SplitSeq(h, ",") {
		key, value, _ := strings.Cut(strings.TrimSpace(pair), " ")
		if key == "" || strings.ContainsAny(value, " ") {
			return nil, courier.Errorf(courier.EINVALID, "Upload-Metadata: malformed pair %q", pair)
		}
		dec, err := base64.StdEncoding.DecodeString(value)
		if err != nil {
			return nil, courier.Errorf(courier.EINVALID, "Upload-Metadata: %s is not base64", key)
		}
		if _, dup := m[key]; dup {
			return nil, courier.Errorf(courier.EINVALID, "Upload-Metadata: %s given twice", key)
		}
		m[key] = string(dec)
	}
	return m, nil
}

// ParseMetadata validates tus metadata (already decoded) and returns it with
// defaults filled in. Unknown keys are ignored: clients such as tus-js-client
// add their own.
func ParseMetadata(m map[string]string) (Metadata, error) {
	md := Metadata{
		Filename:       m["filename"],
		Filetype:       m["filetype"],
		Mode:           courier.BlobMode(m["mode"]),
		SHA256:         strings.ToLower(m["sha256"]),
		IdempotencyKey: m["idempotency-key"],
	}
	// Some clients send "name" and "type" (tus-js-client's examples do).
	if md.Filename == "" {
		md.Filename = m["name"]
	}
	if md.Filetype == "" {
		md.Filetype = m["type"]
	}
	return md, md.validate()
}

func (md *Metadata) validate() error {
	switch md.Mode {
	case "":
		md.Mode = courier.BlobPlain
	case courier.BlobPlain, courier.BlobE2E:
	default:
		return courier.Errorf(courier.EINVALID, "metadata mode: want plain or e2e")
	}
	if !utf8.ValidString(md.Filename) || len(md.Filename) > maxFilename || strings.ContainsFunc(md.Filename, isControl) {
		return courier.Errorf(courier.EINVALID, "metadata filename: want at most %d bytes of printable UTF-8", maxFilename)
	}
	if md.Filetype == "" {
		md.Filetype = "application/octet-stream"
	}
	mt, _, err := mime.ParseMediaType(md.Filetype)
	if err != nil || len(md.Filetype) > maxFiletype || !strings.Contains(mt, "/") {
		return courier.Errorf(courier.EINVALID, "metadata filetype: want a MIME type such as image/jpeg")
	}
	md.Filetype = mt // parameters are dropped: they never matter for media
	if md.SHA256 != "" {
		if b, err := hex.DecodeString(md.SHA256); err != nil || len(b) != 32 {
			return courier.Errorf(courier.EINVALID, "metadata sha256: want 64 hex digits")
		}
	}
	if len(md.IdempotencyKey) > maxIdempotencyKey || strings.ContainsFunc(md.IdempotencyKey, isControl) {
		return courier.Errorf(courier.EINVALID, "metadata idempotency-key: want at most %d printable bytes", maxIdempotencyKey)
	}
	return nil
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// requestMetadata collects metadata from every place a client may put it:
// the Upload-Metadata header (tus 1.0's, and Courier's own for the IETF
// draft, which has no metadata header), for the draft Content-Type and
// Content-Disposition (copied into info as filetype and filename), plus
// the headers Idempotency-Key and Repr-Digest (RFC 9530, sha-256).
func requestMetadata(info map[string]string, h http.Header, ietf bool) (Metadata, error) {
	m := make(map[string]string, len(info)+2)
	if ietf {
		for k, v := range info {
			m[k] = v
		}
	}
	// tus 1.0's Upload-Metadata is parsed again, strictly: tusd skips
	// malformed pairs and lets a repeated key win, so "mode e2e,mode
	// plain" would make a plain blob of what the client encrypted.
	extra, err := ParseMetadataHeader(h.Get("Upload-Metadata"))
	if err != nil {
		return Metadata{}, err
	}
	for k, v := range extra {
		if _, dup := m[k]; dup && m[k] != v {
			return Metadata{}, courier.Errorf(courier.EINVALID, "metadata %s given twice, differently", k)
		}
		m[k] = v
	}
	if k := h.Get("Idempotency-Key"); k != "" && m["idempotency-key"] == "" {
		m["idempotency-key"] = strings.Trim(k, `"`) // the draft makes it an sf-string
	}
	if d := h.Get("Repr-Digest"); d != "" && m["sha256"] == "" {
		sum, err := parseReprDigest(d)
		if err != nil {
			return Metadata{}, err
		}
		m["sha256"] = sum
	}
	return ParseMetadata(m)
}

// parseReprDigest returns the sha-256 member of a Repr-Digest header as hex,
// or "" when the header names only other algorithms.
func parseReprDigest(h string) (string, error) {
	for member := range strings.SplitSeq(h, ",") {
		alg, val, ok := strings.Cut(strings.TrimSpace(member), "=")
		if !ok || strings.ToLower(alg) != "sha-256" {
			continue
		}
		val = strings.TrimSpace(val)
		if len(val) < 2 || val[0] != ':' || val[len(val)-1] != ':' {
			return "", courier.Errorf(courier.EINVALID, "Repr-Digest: sha-256 must be a byte sequence :base64:")
		}
		b, err := base64.StdEncoding.DecodeString(val[1 : len(val)-1])
		if err != nil || len(b) != 32 {
			return "", courier.Errorf(courier.EINVALID, "Repr-Digest: sha-256 must hold 32 bytes")
		}
		return hex.EncodeToString(b), nil
	}
	return "", nil
}
