package thumbnails

import (
	"encoding/binary"
	"errors"
)

// heifCodedSize returns the largest picture the HEVC decoder will make
// for any coded image of a HEIC file: the luma size of every sequence
// parameter set (SPS) it will be given, in the hvcC properties and inside
// the data of each `hvc1` item, where one overrides the hvcC's. The `ispe`
// boxes heifConfig reads are only what the file says about itself; a file
// whose ispe claims 64×64 and whose stream codes 16000×16000 pixels would
// otherwise pass the header check and be decoded in full (about 1.5 GB).
//
// libheif hands the decoder every NAL unit with a 4-byte length, whatever
// hvcC's lengthSizeMinusOne says, so item data is walked that way too.
func heifCodedSize(data []byte) (w, h int, err error) {
	meta := findBox(data, "meta")
	if len(meta) < 4 {
		return 0, 0, errors.New("heif: no meta box")
	}
	meta = meta[4:] // a full box: version and flags
	widest := func(sw, sh int) {
		if int64(sw)*int64(sh) > int64(w)*int64(h) {
			w, h = sw, sh
		}
	}
	// Parameter sets in the hvcC properties.
	ipco := findBox(findBox(meta, "iprp"), "ipco")
	for rest, n := ipco, 0; len(rest) > 0 && n < 4096; n++ {
		typ, body, next, ok := nextBox(rest)
		if !ok {
			break
		}
		if typ == "hvcC" {
			for _, nal := range hvcCNALs(body) {
				if sw, sh, ok := spsSize(nal); ok {
					widest(sw, sh)
				}
			}
		}
		rest = next
	}
	// Parameter sets in the coded data of each hvc1 item.
	items := hvc1Items(findBox(meta, "iinf"))
	extents, err := itemExtents(findBox(meta, "iloc"), items)
	if err != nil {
		return 0, 0, err
	}
	idat := findBox(meta, "idat")
	for _, e := range extents {
		src := data
		if e.idat {
			src = idat
		}
		if e.offset > uint64(len(src)) {
			return 0, 0, errors.New("heif: item data past the end of the file")
		}
		end := uint64(len(src))
		if e.length > 0 && e.length < end-e.offset {
			end = e.offset + e.length
		}
		for b := src[e.offset:end]; len(b) >= 4; {
			n := uint64(binary.BigEndian.Uint32(b))
			if n > uint64(len(b)-4) {
				break // truncated: the decoder stops there too
			}
			if sw, sh, ok := spsSize(b[4 : 4+n]); ok {
				widest(sw, sh)
			}
			b = b[4+n:]
		}
	}
	return w, h, nil
}

// hvcCNALs returns the NAL units of an HEVCDecoderConfigurationRecord's
// arrays (VPS, SPS, PPS, SEI).
func hvcCNALs(b []byte) [][]byte {
	const header = 22 // fixed fields before numOfArrays
	if len(b) < header+1 {
		return nil
	}
	var nals [][]byte
	arrays, b := int(b[header]), b[header+1:]
	for range arrays {
		if len(b) < 3 {
			break
		}
		count := int(binary.BigEndian.Uint16(b[1:]))
		b = b[3:]
		for range count {
			if len(b) < 2 {
				return nals
			}
			n := int(binary.BigEndian.Uint16(b))
			if n > len(b)-2 {
				return nals
			}
			nals = append(nals, b[2:2+n])
			b = b[2+n:]
		}
	}
	return nals
}

// hvc1Items returns the IDs of the `hvc1` items listed in an iinf box:
// the coded images (a grid's tiles among them).
func hvc1Items(iinf []byte) map[uint32]bool {
	items := map[uint32]bool{}
	if len(iinf) < 6 {
		return items
	}
	rest := iinf[6:] // version and flags, then entry_count: u16 in version 0
	if iinf[0] != 0 {
		if len(iinf) < 8 {
			return items
		}
		rest = iinf[8:] // u32 in later versions
	}
	for n := 0; len(rest) > 0 && n < 1<<16; n++ {
		typ, body, next, ok := nextBox(rest)
		if !ok {
			break
		}
		rest = next
		// infe versions 2 and 3 name the item type; older ones do not
		// describe coded images.
		if typ != "infe" || len(body) < 4 {
			continue
		}
		switch v := body[0]; {
		case v == 2 && len(body) >= 12:
			if string(body[8:12]) == "hvc1" {
				items[uint32(binary.BigEndian.Uint16(body[4:]))] = true
			}
		case v == 3 && len(body) >= 14:
			if string(body[10:14]) == "hvc1" {
				items[binary.BigEndian.Uint32(body[4:])] = true
			}
		}
	}
	return items
}

// extent is where a piece of an item's data is: an offset into the file,
// or into the idat box; a length of 0 runs to the end.
type extent struct {
	offset, length uint64
	idat           bool
}

// itemExtents reads an iloc box and returns the extents of the wanted
// items.
func itemExtents(iloc []byte, want map[uint32]bool) ([]extent, error) {
	bad := errors.New("heif: malformed item locations (iloc)")
	if len(want) == 0 {
		return nil, nil
	}
	if len(iloc) < 8 {
		return nil, bad
	}
	r := boxReader{b: iloc[4:]}
	version := iloc[0]
	sizes := r.uint(2)
	offsetSize, lengthSize, baseSize, indexSize := int(sizes>>12), int(sizes>>8&15), int(sizes>>4&15), int(sizes&15)
	if version == 0 {
		indexSize = 0
	}
	count := r.uint(2)
	if version == 2 {
		count = r.uint(4)
	}
	var out []extent
	for i := uint64(0); i < count && !r.short; i++ {
		id := r.uint(2)
		if version == 2 {
			id = r.uint(4)
		}
		method := uint64(0)
		if version == 1 || version == 2 {
			method = r.uint(2) & 15
		}
		r.uint(2) // data_reference_index
		base := r.uint(baseSize)
		extents := r.uint(2)
		for j := uint64(0); j < extents && !r.short; j++ {
			r.uint(indexSize)
			off, n := r.uint(offsetSize), r.uint(lengthSize)
			if !want[uint32(id)] {
				continue
			}
			if method > 1 {
				// Data built from other items: no decoder we use
				// accepts it, and no size we could check.
				return nil, errors.New("heif: item data by reference is not supported")
			}
			if base+off < base {
				return nil, bad
			}
			out = append(out, extent{offset: base + off, length: n, idat: method == 1})
		}
	}
	if r.short {
		return nil, bad
	}
	return out, nil
}

// boxReader reads big-endian fields of 0, 2, 4 or 8 bytes; reading past
// the end sets short and returns 0.
type boxReader struct {
	b     []byte
	short bool
}

func (r *boxReader) uint(n int) uint64 {
	if n == 0 {
		return 0
	}
	if (n != 2 && n != 4 && n != 8) || len(r.b) < n {
		r.short = true
		return 0
	}
	var v uint64
	for _, c := range r.b[:n] {
		v = v<<8 | uint64(c)
	}
	r.b = r.b[n:]
	return v
}
