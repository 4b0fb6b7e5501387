package thumbnails

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"

	"github.com/courier-chat/courier"
)

// pngKeep lists the PNG chunks that survive stripping: the critical ones,
// those that change how pixels look (transparency, colour space, HDR), and
// APNG's animation chunks. Text (tEXt, zTXt, iTXt, which is where XMP
// lives), eXIf, tIME, C2PA and private chunks are dropped.
var pngKeep = map[string]bool{
	"IHDR": true, "PLTE": true, "IDAT": true, "IEND": true,
	"tRNS": true, "gAMA": true, "cHRM": true, "sRGB": true, "iCCP": true,
	"sBIT": true, "cICP": true, "mDCv": true, "cLLi": true, "bKGD": true, "pHYs": true,
	"acTL": true, "fcTL": true, "fdAT": true,
}

// StripPNG copies the PNG in src to dst keeping only the chunks in pngKeep,
// byte for byte, and writes a minimal eXIf with the Orientation when the
// original's was not 1. src is read into memory; bound it.
func StripPNG(dst io.Writer, src io.Reader) error {
	data, err := io.ReadAll(src)
	if err != nil {
		return fmt.Errorf("thumbnails: read: %w", err)
	}
	out, err := stripPNG(data)
	if err != nil {
		return err
	}
	_, err = dst.Write(out)
	return err
}

func stripPNG(b []byte) ([]byte, error) {
	bad := func(why string) error {
		return fmt.Errorf("thumbnails: %w", courier.Errorf(courier.EINVALID, "png image is corrupt or truncated: %s", why))
	}
	if sniff(b) != FormatPNG {
		return nil, bad("missing PNG signature")
	}
	o := pngOrientation(bytes.NewReader(b), int64(len(b)))
	out := append(make([]byte, 0, len(b)), b[:8]...)
	for off := 8; ; {
		if off+12 > len(b) {
			return nil, bad("no IEND chunk")
		}
		n := int(binary.BigEndian.Uint32(b[off:]))
		typ := string(b[off+4 : off+8])
		end := off + 12 + n
		if n < 0 || n > len(b) || end > len(b) {
			return nil, bad(fmt.Sprintf("chunk %q runs past the end", typ))
		}
		if pngKeep[typ] {
			out = append(out, b[off:end]...)
		}
		if typ == "IHDR" && o != 1 { // eXIf must come before IDAT
			out = appendChunk(out, "eXIf", minimalExif(o))
		}
		if typ == "IEND" {
			return out, nil
		}
		off = end
	}
}

func appendChunk(out []byte, typ string, data []byte) []byte {
	out = binary.BigEndian.AppendUint32(out, uint32(len(data)))
	start := len(out)
	out = append(out, typ...)
	out = append(out, data...)
	return binary.BigEndian.AppendUint32(out, crc32.ChecksumIEEE(out[start:]))
}

// StripMetadata writes to dst the original photo in src as Courier serves
// it, without location or other metadata, and returns its content type:
// JPEG, PNG and GIF are stripped at segment or block level, the image's
// bytes unchanged (so GIF animations survive); WebP, TIFF,
// BMP and HEIC are decoded (within lim), turned upright, and re-encoded at
// full size as JPEG (quality 90), or PNG when they have transparency,
// since no browser shows HEIC and re-encoding is the one sure way to drop
// what their containers carry.
func StripMetadata(dst io.Writer, src io.Reader, lim Limits) (contentType string, err error) {
	lim = lim.withDefaults()
	data, err := io.ReadAll(io.LimitReader(src, lim.MaxBytes+1))
	if err != nil {
		return "", fmt.Errorf("thumbnails: read: %w", err)
	}
	if int64(len(data)) > lim.MaxBytes {
		return "", courier.Errorf(courier.ETOOLARGE, "image is over %d bytes", lim.MaxBytes)
	}
	var out []byte
	switch format := sniff(data); format {
	case FormatJPEG:
		contentType = "image/jpeg"
		out, err = stripJPEG(data)
	case FormatPNG:
		contentType = "image/png"
		out, err = stripPNG(data)
	case FormatGIF:
		contentType = "image/gif"
		out, err = stripGIF(data)
	default:
		img, info, derr := decodeBytes(data, lim, 0)
		if derr != nil {
			return "", derr
		}
		var enc Image
		enc, err = encode(orient(shrink(img, 1), info.Orientation), hasAlpha(img), 90)
		contentType, out = enc.ContentType, enc.Data
	}
	if err != nil {
		return "", err
	}
	_, err = dst.Write(out)
	return contentType, err
}
