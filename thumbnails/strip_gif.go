package thumbnails

import (
	"bytes"

	"github.com/courier-chat/courier"
)

// gifKeepApps are the application extensions that survive stripping: the
// loop count of an animation. XMP ("XMP DataXMP"), ICC profiles and any
// other application's data are dropped with comments.
var gifKeepApps = [][]byte{[]byte("NETSCAPE2.0"), []byte("ANIMEXTS1.0")}

// stripGIF copies a GIF keeping what draws it: the screen descriptor and
// colour tables, images, graphic control (frame timing, transparency),
// plain text and the loop count. Comments, other application extensions
// (XMP lives in one), unknown extensions and whatever follows the trailer
// are dropped. A stream cut short or broken after its header ends where
// it breaks, with a trailer, as a browser would show it; a bad header is
// an error.
func stripGIF(b []byte) ([]byte, error) {
	bad := func(what string) ([]byte, error) {
		return nil, courier.Errorf(courier.EINVALID, "gif: %s", what)
	}
	if len(b) < 13 || !(bytes.HasPrefix(b, []byte("GIF87a")) || bytes.HasPrefix(b, []byte("GIF89a"))) {
		return bad("not a GIF")
	}
	off := 13 + colorTableLen(b[10])
	if off > len(b) {
		return bad("cut short in its global colour table")
	}
	out := append(make([]byte, 0, len(b)), b[:off]...)
	for off < len(b) {
		switch b[off] {
		case 0x2C: // image: descriptor, local colour table, LZW code size, data
			end := off + 10
			if end > len(b) {
				return append(out, 0x3B), nil
			}
			end += colorTableLen(b[off+9]) + 1
			if end = subBlocksEnd(b, end); end < 0 {
				return append(out, 0x3B), nil
			}
			out = append(out, b[off:end]...)
			off = end
		case 0x21: // extension: label, sub-blocks
			if off+2 > len(b) {
				return append(out, 0x3B), nil
			}
			end := subBlocksEnd(b, off+2)
			if end < 0 {
				return append(out, 0x3B), nil
			}
			if keepGIFExtension(b[off+1], b[off+2:end]) {
				out = append(out, b[off:end]...)
			}
			off = end
		default: // 0x3B, the trailer, or garbage: the image ends here
			return append(out, 0x3B), nil
		}
	}
	return append(out, 0x3B), nil
}

// colorTableLen is the size of the colour table a packed field announces.
func colorTableLen(packed byte) int {
	if packed&0x80 == 0 {
		return 0
	}
	return 3 << (packed&0x07 + 1)
}

// subBlocksEnd returns the offset after the data sub-blocks starting at
// off (length-prefixed, ended by a zero length), or -1 when cut short.
func subBlocksEnd(b []byte, off int) int {
	for off < len(b) {
		n := int(b[off])
		off++
		if n == 0 {
			return off
		}
		off += n
	}
	return -1
}

// keepGIFExtension decides per label, given the extension's sub-blocks.
func keepGIFExtension(label byte, blocks []byte) bool {
	switch label {
	case 0xF9, 0x01: // graphic control, plain text
		return true
	case 0xFF: // application: identifier and code in the first sub-block
		if len(blocks) < 12 || blocks[0] != 11 {
			return false
		}
		for _, app := range gifKeepApps {
			if bytes.Equal(blocks[1:12], app) {
				return true
			}
		}
	}
	return false // comment (0xFE), other applications, unknown labels
}
