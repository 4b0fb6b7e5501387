package thumbnails

import (
	"encoding/binary"
	"errors"
	"io"
)

// EXIF is a TIFF structure: a byte-order mark, an offset to the first IFD,
// and IFDs of 12-byte entries. We need one value from it, the Orientation
// tag (0x0112) of IFD0, so we parse just that much. The input is hostile:
// every offset and count is checked against the stream's length, and the
// number of entries read is bounded.

const (
	tagOrientation = 0x0112
	maxIFDEntries  = 1000 // a real IFD0 has a few dozen
)

var errNoExif = errors.New("exif: malformed")

// exifIFD0 walks IFD0 of the TIFF structure in r (size bytes long) and calls
// fn for each entry's tag, type, count and 4-byte value field. It stops
// early when fn returns false.
func exifIFD0(r io.ReaderAt, size int64, fn func(tag, typ uint16, count uint32, value []byte, bo binary.ByteOrder) bool) error {
	var hdr [8]byte
	if size < 8 {
		return errNoExif
	}
	if _, err := r.ReadAt(hdr[:], 0); err != nil {
		return errNoExif
	}
	var bo binary.ByteOrder
	switch string(hdr[:4]) {
	case "II*\x00":
		bo = binary.LittleEndian
	case "MM\x00*":
		bo = binary.BigEndian
	default:
		return errNoExif
	}
	off := int64(bo.Uint32(hdr[4:]))
	if off < 8 || off+2 > size {
		return errNoExif
	}
	var n [2]byte
	if _, err := r.ReadAt(n[:], off); err != nil {
		return errNoExif
	}
	count := int64(bo.Uint16(n[:]))
	if count > maxIFDEntries || off+2+12*count > size {
		return errNoExif
	}
	entries := make([]byte, 12*count)
	if _, err := r.ReadAt(entries, off+2); err != nil {
		return errNoExif
	}
	for i := int64(0); i < count; i++ {
		e := entries[12*i : 12*i+12]
		if !fn(bo.Uint16(e), bo.Uint16(e[2:]), bo.Uint32(e[4:]), e[8:12], bo) {
			return nil
		}
	}
	return nil
}

// exifOrientation returns the Orientation (1–8) in a TIFF structure, or 1
// when it is absent, malformed or out of range: a broken tag must never
// stop a photo from being shown, only from being rotated.
func exifOrientation(r io.ReaderAt, size int64) int {
	o := 1
	_ = exifIFD0(r, size, func(tag, typ uint16, count uint32, v []byte, bo binary.ByteOrder) bool {
		if tag != tagOrientation {
			return true
		}
		// SHORT is the spec's type; some writers use LONG.
		var val uint32
		switch {
		case typ == 3 && count >= 1:
			val = uint32(bo.Uint16(v))
		case typ == 4 && count >= 1:
			val = bo.Uint32(v)
		default:
			return false
		}
		if val >= 1 && val <= 8 {
			o = int(val)
		}
		return false
	})
	return o
}

// exifPayload strips the "Exif\0\0" header that JPEG APP1 segments (and
// some WebP EXIF chunks) put before the TIFF structure.
func exifPayload(b []byte) []byte {
	if len(b) >= 6 && string(b[:6]) == "Exif\x00\x00" {
		return b[6:]
	}
	return b
}

// minimalExif returns a TIFF structure holding only IFD0 with one entry,
// Orientation = o: what we keep of a photo's EXIF when stripping it.
func minimalExif(o int) []byte {
	b := make([]byte, 0, 26)
	b = append(b, "II*\x00"...)
	b = binary.LittleEndian.AppendUint32(b, 8) // IFD0 right after the header
	b = binary.LittleEndian.AppendUint16(b, 1) // one entry
	b = binary.LittleEndian.AppendUint16(b, tagOrientation)
	b = binary.LittleEndian.AppendUint16(b, 3) // SHORT
	b = binary.LittleEndian.AppendUint32(b, 1) // count
	b = binary.LittleEndian.AppendUint16(b, uint16(o))
	b = binary.LittleEndian.AppendUint16(b, 0) // value padding
	b = binary.LittleEndian.AppendUint32(b, 0) // no next IFD
	return b
}
