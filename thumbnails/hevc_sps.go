package thumbnails

// spsSize reads pic_width_in_luma_samples and pic_height_in_luma_samples
// from an HEVC NAL unit, when it is a sequence parameter set (H.265
// section 7.3.2.2): the size of every picture the decoder allocates for
// that sequence.
func spsSize(nal []byte) (w, h int, ok bool) {
	if len(nal) < 3 || (nal[0]>>1)&0x3F != 33 {
		return 0, 0, false
	}
	r := bitReader{b: unescapeRBSP(nal[2:], 256)}
	r.skip(4) // sps_video_parameter_set_id
	subLayers := int(r.bits(3))
	r.skip(1) // sps_temporal_id_nesting_flag
	// profile_tier_level(1, sps_max_sub_layers_minus1)
	r.skip(96) // general profile (88 bits) and level
	var profile, level [8]bool
	for i := range subLayers {
		profile[i], level[i] = r.bits(1) == 1, r.bits(1) == 1
	}
	if subLayers > 0 {
		r.skip(2 * (8 - subLayers)) // reserved_zero_2bits
	}
	for i := range subLayers {
		if profile[i] {
			r.skip(88)
		}
		if level[i] {
			r.skip(8)
		}
	}
	r.ue()           // sps_seq_parameter_set_id
	if r.ue() == 3 { // chroma_format_idc
		r.skip(1) // separate_colour_plane_flag
	}
	pw, ph := r.ue(), r.ue()
	if r.err || pw == 0 || ph == 0 {
		return 0, 0, false
	}
	// ue(v) values here fit in 32 bits; cap them where heifConfig caps
	// ispe, far past any limit.
	return int(min(pw, 1<<30)), int(min(ph, 1<<30)), true
}

// unescapeRBSP drops the emulation-prevention bytes (00 00 03 → 00 00)
// from the first max bytes of a NAL unit's payload.
func unescapeRBSP(b []byte, max int) []byte {
	out := make([]byte, 0, min(len(b), max))
	zeros := 0
	for _, c := range b {
		if len(out) == max {
			break
		}
		if zeros >= 2 && c == 3 {
			zeros = 0
			continue
		}
		if c == 0 {
			zeros++
		} else {
			zeros = 0
		}
		out = append(out, c)
	}
	return out
}

// bitReader reads big-endian bit fields and Exp-Golomb codes; reading past
// the end sets err.
type bitReader struct {
	b   []byte
	pos int // in bits
	err bool
}

func (r *bitReader) bits(n int) uint64 {
	var v uint64
	for range n {
		if r.pos >= 8*len(r.b) {
			r.err = true
			return 0
		}
		v = v<<1 | uint64(r.b[r.pos/8]>>(7-r.pos%8)&1)
		r.pos++
	}
	return v
}

func (r *bitReader) skip(n int) {
	if r.pos += n; r.pos > 8*len(r.b) {
		r.err = true
	}
}

// ue reads an unsigned Exp-Golomb code, ue(v).
func (r *bitReader) ue() uint64 {
	zeros := 0
	for r.bits(1) == 0 {
		if r.err || zeros == 32 {
			r.err = true
			return 0
		}
		zeros++
	}
	return 1<<zeros - 1 + r.bits(zeros)
}
