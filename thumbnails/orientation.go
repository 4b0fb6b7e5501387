package thumbnails

import (
	"bytes"
	"encoding/binary"
	"image"
	"io"

	"github.com/disintegration/imaging"
)

// readOrientation finds the EXIF Orientation of an image of the given
// format by walking its container: JPEG segments, PNG chunks, WebP RIFF
// chunks, or the TIFF file itself. Formats without EXIF, and HEIC (where
// libheif applies irot/imir itself), report 1.
func readOrientation(format string, r io.ReaderAt, size int64) int {
	switch format {
	case FormatJPEG:
		return jpegOrientation(r, size)
	case FormatPNG:
		return pngOrientation(r, size)
	case FormatWebP:
		return webpOrientation(r, size)
	case FormatTIFF:
		return exifOrientation(r, size)
	}
	return 1
}

// maxSegments bounds the header walk, so a file of a million empty
// segments costs a million reads at most once, not forever.
const maxSegments = 512

// jpegOrientation walks the JPEG markers before the first scan and parses
// the first APP1 that holds EXIF.
func jpegOrientation(r io.ReaderAt, size int64) int {
	off := int64(2) // after SOI
	var hdr [4]byte
	for i := 0; i < maxSegments && off+4 <= size; i++ {
		if _, err := r.ReadAt(hdr[:], off); err != nil || hdr[0] != 0xFF {
			return 1
		}
		marker := hdr[1]
		if marker == 0xFF { // fill byte before a marker
			off++
			continue
		}
		if marker == 0xDA || marker == 0xD9 { // SOS or EOI: no EXIF ahead
			return 1
		}
		if marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7) { // no length
			off += 2
			continue
		}
		n := int64(binary.BigEndian.Uint16(hdr[2:]))
		if n < 2 || off+2+n > size {
			return 1
		}
		if marker == 0xE1 && n >= 2+6+8 {
			var id [6]byte
			if _, err := r.ReadAt(id[:], off+4); err == nil && string(id[:]) == "Exif\x00\x00" {
				start := off + 4 + 6
				return exifOrientation(io.NewSectionReader(r, start, n-2-6), n-2-6)
			}
		}
		off += 2 + n
	}
	return 1
}

// pngOrientation looks for an eXIf chunk before the image data.
func pngOrientation(r io.ReaderAt, size int64) int {
	off := int64(8)
	var hdr [8]byte
	for i := 0; i < maxSegments && off+8 <= size; i++ {
		if _, err := r.ReadAt(hdr[:], off); err != nil {
			return 1
		}
		n := int64(binary.BigEndian.Uint32(hdr[:4]))
		typ := string(hdr[4:])
		if typ == "IDAT" || typ == "IEND" || off+12+n > size {
			return 1
		}
		if typ == "eXIf" {
			return exifOrientation(io.NewSectionReader(r, off+8, n), n)
		}
		off += 12 + n
	}
	return 1
}

// webpOrientation looks for the EXIF chunk of an extended WebP, which by
// the spec sits after the image data, so this walk reads chunk headers only.
func webpOrientation(r io.ReaderAt, size int64) int {
	off := int64(12)
	var hdr [8]byte
	for i := 0; i < maxSegments && off+8 <= size; i++ {
		if _, err := r.ReadAt(hdr[:], off); err != nil {
			return 1
		}
		n := int64(binary.LittleEndian.Uint32(hdr[4:]))
		if off+8+n > size {
			return 1
		}
		if string(hdr[:4]) == "EXIF" && n <= 1<<20 {
			b := make([]byte, n)
			if _, err := r.ReadAt(b, off+8); err != nil {
				return 1
			}
			b = exifPayload(b)
			return exifOrientation(bytes.NewReader(b), int64(len(b)))
		}
		off += 8 + n + n&1 // chunks are padded to even sizes
	}
	return 1
}

// swapsAxes reports whether orientation o turns the stored image a quarter
// turn, so that displayed width is stored height.
func swapsAxes(o int) bool { return o >= 5 && o <= 8 }

// orient returns img as displayed under EXIF orientation o. The names
// follow imaging, whose Rotate90 turns counter-clockwise: orientation 6
// ("row 0 is the right side") needs a clockwise quarter turn, Rotate270.
func orient(img *image.NRGBA, o int) *image.NRGBA {
	switch o {
	case 2:
		return imaging.FlipH(img)
	case 3:
		return imaging.Rotate180(img)
	case 4:
		return imaging.FlipV(img)
	case 5:
		return imaging.Transpose(img)
	case 6:
		return imaging.Rotate270(img)
	case 7:
		return imaging.Transverse(img)
	case 8:
		return imaging.Rotate90(img)
	}
	return img
}
