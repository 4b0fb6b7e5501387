package thumbnails

import (
	"encoding/binary"
	"errors"
	"image"
)

// heifConfig reads a HEIC/HEIF image's size from its container, without
// decoding anything: the `ispe` (image spatial extents) properties inside
// meta/iprp/ipco. gen2brain/heic's DecodeConfig hands libheif only the
// first 32 KiB, which libheif rejects for real iPhone photos, so we read
// the boxes ourselves.
//
// The largest `ispe` wins: a grid image (how iPhones store 12 MP photos)
// has one for each 512×512 tile and one for the whole picture, and for a
// bomb check the largest is the one that matters. An `irot` of 90° or 270°
// swaps the axes, as libheif does when it decodes.
func heifConfig(data []byte) (image.Config, error) {
	meta := findBox(data, "meta")
	if meta == nil || len(meta) < 4 {
		return image.Config{}, errors.New("heif: no meta box")
	}
	iprp := findBox(meta[4:], "iprp") // meta is a full box: skip version+flags
	ipco := findBox(iprp, "ipco")
	if ipco == nil {
		return image.Config{}, errors.New("heif: no item properties")
	}
	var w, h uint32
	rotated := false
	for rest, n := ipco, 0; len(rest) > 0 && n < 4096; n++ {
		typ, body, next, ok := nextBox(rest)
		if !ok {
			break
		}
		switch typ {
		case "ispe":
			if len(body) >= 12 {
				bw, bh := binary.BigEndian.Uint32(body[4:]), binary.BigEndian.Uint32(body[8:])
				if uint64(bw)*uint64(bh) > uint64(w)*uint64(h) {
					w, h = bw, bh
				}
			}
		case "irot":
			if len(body) >= 1 && body[0]&1 == 1 {
				rotated = true
			}
		}
		rest = next
	}
	if w == 0 || h == 0 {
		return image.Config{}, errors.New("heif: no image size (ispe)")
	}
	if w > 1<<30 || h > 1<<30 {
		// Larger than an int on 32-bit platforms; far over any limit anyway.
		w, h = 1<<30, 1<<30
	}
	if rotated {
		w, h = h, w
	}
	return image.Config{Width: int(w), Height: int(h)}, nil
}

// findBox returns the body of the first top-level box of the given type.
func findBox(data []byte, want string) []byte {
	for n := 0; len(data) > 0 && n < 4096; n++ {
		typ, body, next, ok := nextBox(data)
		if !ok {
			return nil
		}
		if typ == want {
			return body
		}
		data = next
	}
	return nil
}

// nextBox splits one ISO-BMFF box off data: its type, its body, and what
// follows it. A size of 0 means "to the end"; 1 means a 64-bit size follows.
func nextBox(data []byte) (typ string, body, rest []byte, ok bool) {
	if len(data) < 8 {
		return "", nil, nil, false
	}
	size := uint64(binary.BigEndian.Uint32(data))
	typ = string(data[4:8])
	hdr := uint64(8)
	switch size {
	case 0:
		size = uint64(len(data))
	case 1:
		if len(data) < 16 {
			return "", nil, nil, false
		}
		size, hdr = binary.BigEndian.Uint64(data[8:]), 16
	}
	if size < hdr || size > uint64(len(data)) {
		return "", nil, nil, false
	}
	return typ, data[hdr:size], data[size:], true
}
