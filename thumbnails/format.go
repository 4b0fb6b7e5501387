package thumbnails

import (
	"bytes"
	"encoding/binary"
)

// Format names, as reported in Info.Format and Result.Format.
const (
	FormatJPEG = "jpeg"
	FormatPNG  = "png"
	FormatGIF  = "gif"
	FormatWebP = "webp"
	FormatTIFF = "tiff"
	FormatBMP  = "bmp"
	FormatHEIC = "heic"
)

// ContentType returns the media type of a format name, or "" if unknown.
func ContentType(format string) string {
	switch format {
	case FormatJPEG:
		return "image/jpeg"
	case FormatPNG:
		return "image/png"
	case FormatGIF:
		return "image/gif"
	case FormatWebP:
		return "image/webp"
	case FormatTIFF:
		return "image/tiff"
	case FormatBMP:
		return "image/bmp"
	case FormatHEIC:
		return "image/heic"
	}
	return ""
}

// Sniff names the photo format of a file from its first bytes (32 are
// enough), or returns "" for anything this package cannot decode. The media
// worker uses it to tell photos from other files whatever the uploader
// declared.
func Sniff(head []byte) string { return sniff(head) }

// sniff names the format from the first bytes (at least 32 are useful).
// We sniff ourselves rather than trust image.RegisterFormat, because the
// HEIC decoder registers only the "heic" brand while phones and cameras
// also write "mif1", "heix" and friends.
func sniff(b []byte) string {
	switch {
	case len(b) >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF:
		return FormatJPEG
	case bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")):
		return FormatPNG
	case bytes.HasPrefix(b, []byte("GIF87a")), bytes.HasPrefix(b, []byte("GIF89a")):
		return FormatGIF
	case len(b) >= 12 && string(b[:4]) == "RIFF" && string(b[8:12]) == "WEBP":
		return FormatWebP
	case bytes.HasPrefix(b, []byte("II*\x00")), bytes.HasPrefix(b, []byte("MM\x00*")):
		return FormatTIFF
	case len(b) >= 14 && string(b[:2]) == "BM":
		return FormatBMP
	case isHEIF(b):
		return FormatHEIC
	}
	return ""
}

// isHEIF reports whether b starts with an ISO-BMFF ftyp box naming an HEVC
// HEIF brand. AVIF shares the container but not the codec, and our decoder
// has no AV1, so "avif" brands are not claimed.
func isHEIF(b []byte) bool {
	if len(b) < 16 || string(b[4:8]) != "ftyp" {
		return false
	}
	size := int(binary.BigEndian.Uint32(b))
	if size < 16 || size > len(b) {
		size = len(b)
	}
	major := string(b[8:12])
	if major == "avif" || major == "avis" {
		return false
	}
	// Major brand, then (after minor_version) the compatible brands.
	brands := []string{major}
	for i := 16; i+4 <= size; i += 4 {
		brands = append(brands, string(b[i:i+4]))
	}
	for _, br := range brands {
		switch br {
		case "heic", "heix", "heim", "heis", "hevc", "hevx":
			return true
		}
	}
	return false
}
