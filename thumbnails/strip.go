package thumbnails

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/courier-chat/courier"
)

// StripJPEG copies the JPEG in src to dst without its metadata and without
// re-encoding: it walks the marker segments and keeps only what decoding
// needs (tables, frame, scans, restart markers), the JFIF APP0, ICC
// profiles (APP2 "ICC_PROFILE") and Adobe APP14. EXIF and XMP (APP1),
// IPTC/Photoshop (APP13), every other APPn, COM, and any bytes after EOI
// (where phones append depth maps and preview JPEGs with their own EXIF)
// are dropped. When the original's EXIF Orientation was not 1, a minimal
// EXIF APP1 holding only that tag is written after SOI, so the copy still
// displays the right way up. src is read into memory; bound it.
func StripJPEG(dst io.Writer, src io.Reader) error {
	data, err := io.ReadAll(src)
	if err != nil {
		return fmt.Errorf("thumbnails: read: %w", err)
	}
	out, err := stripJPEG(data)
	if err != nil {
		return err
	}
	_, err = dst.Write(out)
	return err
}

func stripJPEG(b []byte) ([]byte, error) {
	bad := func(why string) error {
		return fmt.Errorf("thumbnails: %w", courier.Errorf(courier.EINVALID, "jpeg image is corrupt or truncated: %s", why))
	}
	if len(b) < 4 || b[0] != 0xFF || b[1] != 0xD8 {
		return nil, bad("missing SOI marker")
	}
	out := make([]byte, 0, len(b))
	out = append(out, 0xFF, 0xD8)
	if o := jpegOrientation(bytes.NewReader(b), int64(len(b))); o != 1 {
		out = appendSegment(out, 0xE1, append([]byte("Exif\x00\x00"), minimalExif(o)...))
	}
	off := 2
	for {
		// Markers may be preceded by any number of 0xFF fill bytes.
		for off+1 < len(b) && b[off] == 0xFF && b[off+1] == 0xFF {
			off++
		}
		if off+2 > len(b) {
			return nil, bad("no EOI marker")
		}
		if b[off] != 0xFF {
			return nil, bad(fmt.Sprintf("expected a marker at offset %d", off))
		}
		marker := b[off+1]
		switch {
		case marker == 0xD9: // EOI: anything after it is not this image
			return append(out, 0xFF, 0xD9), nil
		case marker == 0x01 || marker >= 0xD0 && marker <= 0xD7: // no length
			out = append(out, b[off:off+2]...)
			off += 2
			continue
		}
		if off+4 > len(b) {
			return nil, bad("segment header cut short")
		}
		n := int(binary.BigEndian.Uint16(b[off+2:]))
		end := off + 2 + n
		if n < 2 || end > len(b) {
			return nil, bad(fmt.Sprintf("segment 0x%02X runs past the end", marker))
		}
		if keepSegment(marker, b[off+4:end]) {
			out = append(out, b[off:end]...)
		}
		off = end
		if marker == 0xDA { // SOS: entropy-coded data follows
			e, err := scanEnd(b, off)
			if err != nil {
				return nil, bad(err.Error())
			}
			out = append(out, b[off:e]...)
			off = e
		}
	}
}

// keepSegment decides per marker and payload what survives stripping.
func keepSegment(marker byte, payload []byte) bool {
	switch {
	case marker == 0xE0: // APP0: keep JFIF, drop JFXX (it may hold a thumbnail)
		return bytes.HasPrefix(payload, []byte("JFIF\x00"))
	case marker == 0xE2: // APP2: ICC profile chunks only, not MPF
		return bytes.HasPrefix(payload, []byte("ICC_PROFILE\x00"))
	case marker == 0xEE: // APP14 Adobe: says whether the data is RGB, YCbCr or YCCK
		return bytes.HasPrefix(payload, []byte("Adobe"))
	case marker >= 0xE0 && marker <= 0xEF, marker == 0xFE: // other APPn, COM
		return false
	}
	return true // SOFn, DHT, DQT, DRI, SOS, DNL, …
}

// scanEnd returns the offset of the first marker after entropy-coded data
// starting at off: in the data, 0xFF is followed by 0x00 (a stuffed byte)
// or a restart marker, neither of which ends it.
func scanEnd(b []byte, off int) (int, error) {
	for {
		i := bytes.IndexByte(b[off:], 0xFF)
		if i < 0 {
			return 0, errors.New("scan data runs past the end")
		}
		off += i
		if off+1 >= len(b) {
			return 0, errors.New("scan data runs past the end")
		}
		if m := b[off+1]; m == 0x00 || m >= 0xD0 && m <= 0xD7 || m == 0xFF {
			off++
			if m != 0xFF {
				off++
			}
			continue
		}
		return off, nil
	}
}

func appendSegment(out []byte, marker byte, payload []byte) []byte {
	out = append(out, 0xFF, marker)
	out = binary.BigEndian.AppendUint16(out, uint16(len(payload)+2))
	return append(out, payload...)
}
