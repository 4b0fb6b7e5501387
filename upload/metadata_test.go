package upload

import (
	"encoding/base64"
	"net/http"
	"strings"
	"testing"

	"github.com/courier-chat/courier"
)

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func TestParseMetadataHeader(t *testing.T) {
	sum := strings.Repeat("ab", 32)
	for _, tc := range []struct {
		name, header string
		want         Metadata
		code         string
	}{
		{"empty is plain octet-stream", "", Metadata{Mode: courier.BlobPlain, Filetype: "application/octet-stream"}, ""},
		{"all keys", "filename " + b64("IMG 1.heic") + ",filetype " + b64("image/heic") + ",mode " + b64("e2e") + ",sha256 " + b64(strings.ToUpper(sum)) + ",idempotency-key " + b64("k1"),
			Metadata{Filename: "IMG 1.heic", Filetype: "image/heic", Mode: courier.BlobE2E, SHA256: sum, IdempotencyKey: "k1"}, ""},
		{"key without value", "filename", Metadata{Mode: courier.BlobPlain, Filetype: "application/octet-stream"}, ""},
		{"type parameters dropped", "filetype " + b64("text/plain; charset=utf-8"), Metadata{Mode: courier.BlobPlain, Filetype: "text/plain"}, ""},
		{"bad base64", "filename !!!", Metadata{}, courier.EINVALID},
		{"three parts", "filename a b", Metadata{}, courier.EINVALID},
		{"duplicate", "mode " + b64("plain") + ",mode " + b64("e2e"), Metadata{}, courier.EINVALID},
		{"bad mode", "mode " + b64("secret"), Metadata{}, courier.EINVALID},
		{"bad sha256", "sha256 " + b64("abc"), Metadata{}, courier.EINVALID},
		{"bad filetype", "filetype " + b64("jpeg"), Metadata{}, courier.EINVALID},
		{"control in filename", "filename " + b64("a\nb"), Metadata{}, courier.EINVALID},
		{"long filename", "filename " + b64(strings.Repeat("x", 256)), Metadata{}, courier.EINVALID},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := ParseMetadataHeader(tc.header)
			var md Metadata
			if err == nil {
				md, err = ParseMetadata(m)
			}
			if code := courier.ErrorCode(err); code != tc.code {
				t.Fatalf("error %v, want code %q", err, tc.code)
			}
			if tc.code == "" && md != tc.want {
				t.Fatalf("got %+v, want %+v", md, tc.want)
			}
		})
	}
}

func TestParseReprDigest(t *testing.T) {
	sum := make([]byte, 32)
	sum[0] = 0xab
	good := "sha-512=:AAAA:, sha-256=:" + base64.StdEncoding.EncodeToString(sum) + ":"
	if got, err := parseReprDigest(good); err != nil || got != "ab"+strings.Repeat("00", 31) {
		t.Fatalf("parseReprDigest = %q, %v", got, err)
	}
	if got, err := parseReprDigest("sha-512=:AAAA:"); err != nil || got != "" {
		t.Fatalf("no sha-256: %q, %v", got, err)
	}
	if _, err := parseReprDigest("sha-256=abc"); err == nil {
		t.Fatal("sha-256 without colons accepted")
	}
}

// FuzzParseMetadata feeds untrusted Upload-Metadata headers through the
// whole parse: it must never panic, and whatever it accepts must be valid.
func FuzzParseMetadata(f *testing.F) {
	f.Add("filename " + b64("a.jpg") + ",filetype " + b64("image/jpeg") + ",mode " + b64("plain"))
	f.Add("sha256 " + b64(strings.Repeat("0", 64)) + ",idempotency-key " + b64("x"))
	f.Add(",,, ,")
	f.Add("filename")
	f.Fuzz(func(t *testing.T, h string) {
		m, err := ParseMetadataHeader(h)
		if err != nil {
			return
		}
		md, err := ParseMetadata(m)
		if err != nil {
			return
		}
		if md.Mode != courier.BlobPlain && md.Mode != courier.BlobE2E {
			t.Fatalf("accepted mode %q", md.Mode)
		}
		if len(md.Filename) > maxFilename || md.Filetype == "" || (md.SHA256 != "" && len(md.SHA256) != 64) {
			t.Fatalf("accepted invalid metadata %+v", md)
		}
	})
}

// FuzzRequestMetadata feeds every header a creation takes metadata from
// (Upload-Metadata, Idempotency-Key, Repr-Digest, and the draft's
// Content-Type and Content-Disposition filename) through requestMetadata:
// it must never panic, a key given twice differently is refused, and
// whatever it accepts is valid.
func FuzzRequestMetadata(f *testing.F) {
	f.Add("mode "+b64("e2e"), "key-1", "sha-256=:"+b64(strings.Repeat("\x00", 32))+":", "image/jpeg", "a.jpg", true)
	f.Add("mode "+b64("e2e")+",mode "+b64("plain"), "", "", "", "", false)
	f.Add("filename "+b64("b.png"), `"quoted"`, "sha-512=:AAAA:, sha-256=abc", "", "a.png", true)
	f.Fuzz(func(t *testing.T, uploadMetadata, idempotencyKey, reprDigest, filetype, filename string, ietf bool) {
		info := map[string]string{}
		if filetype != "" {
			info["filetype"] = filetype
		}
		if filename != "" {
			info["filename"] = filename
		}
		h := http.Header{}
		h.Set("Upload-Metadata", uploadMetadata)
		h.Set("Idempotency-Key", idempotencyKey)
		h.Set("Repr-Digest", reprDigest)
		md, err := requestMetadata(info, h, ietf)
		if err != nil {
			return
		}
		if md.Mode != courier.BlobPlain && md.Mode != courier.BlobE2E {
			t.Fatalf("accepted mode %q", md.Mode)
		}
		if len(md.Filename) > maxFilename || md.Filetype == "" || len(md.IdempotencyKey) > maxIdempotencyKey {
			t.Fatalf("accepted invalid metadata %+v", md)
		}
		if md.SHA256 != "" && (len(md.SHA256) != 64 || strings.Trim(md.SHA256, "0123456789abcdef") != "") {
			t.Fatalf("accepted sha256 %q", md.SHA256)
		}
		if m, err := ParseMetadataHeader(uploadMetadata); err == nil && m["mode"] != "" && m["mode"] != string(md.Mode) {
			t.Fatalf("Upload-Metadata said mode %q, got %q", m["mode"], md.Mode)
		}
	})
}
