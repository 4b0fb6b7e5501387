//go:build cgo && !nojpegturbo

package thumbnails

/*
#cgo LDFLAGS: -lturbojpeg
#include <stdlib.h>
#include <turbojpeg.h>
*/
import "C"

import (
	"errors"
	"image"
	"unsafe"
)

// jpegScaledDecode is true when JPEGs are decoded by libjpeg-turbo at a
// reduced size (see decodeJPEGFit).
const jpegScaledDecode = true

// decodeJPEGFit decodes a JPEG with libjpeg-turbo's TurboJPEG API at the
// smallest of its DCT scaling factors (1/8 to 1) that still covers the
// box×box fit of the image: the inverse DCT then makes the reduced picture
// directly, so a 12 MP photo for a 1280 preview is decoded at 1/2 (3 MP)
// and never built at full size. This is how vipsthumbnail's shrink-on-load
// works, and libjpeg-turbo is the decoder libvips itself uses.
//
// Warnings (a truncated file, a corrupt segment) fail the decode, as they
// do in Go's decoder, and the number of progressive scans is limited so a
// crafted file cannot make decoding take minutes.
func decodeJPEGFit(data []byte, box int) (image.Image, error) {
	if len(data) == 0 {
		return nil, errors.New("empty JPEG")
	}
	h := C.tjInitDecompress()
	if h == nil {
		return nil, errors.New("libjpeg-turbo: " + C.GoString(C.tjGetErrorStr2(nil)))
	}
	defer C.tjDestroy(h)

	src := (*C.uchar)(unsafe.Pointer(&data[0]))
	var w, ht, subsamp, colorspace C.int
	if C.tjDecompressHeader3(h, src, C.ulong(len(data)), &w, &ht, &subsamp, &colorspace) != 0 {
		return nil, turboError(h)
	}
	if colorspace == C.TJCS_CMYK || colorspace == C.TJCS_YCCK {
		return nil, errJPEGFallback
	}
	sw, sh := scaledSize(int(w), int(ht), box)

	gray := colorspace == C.TJCS_GRAY
	var img image.Image
	var pix []byte
	var stride int
	pf := C.int(C.TJPF_RGBA)
	if gray {
		g := image.NewGray(image.Rect(0, 0, sw, sh))
		img, pix, stride, pf = g, g.Pix, g.Stride, C.TJPF_GRAY
	} else {
		// RGBA with alpha 255 is NRGBA byte for byte.
		n := image.NewNRGBA(image.Rect(0, 0, sw, sh))
		img, pix, stride = n, n.Pix, n.Stride
	}
	flags := C.int(C.TJFLAG_STOPONWARNING | C.TJFLAG_LIMITSCANS)
	if C.tjDecompress2(h, src, C.ulong(len(data)), (*C.uchar)(unsafe.Pointer(&pix[0])),
		C.int(sw), C.int(stride), C.int(sh), pf, flags) != 0 {
		return nil, turboError(h)
	}
	return img, nil
}

// scaledSize picks, from libjpeg-turbo's scaling factors no larger than 1,
// the one giving the smallest picture at least as large as w×h fitted
// into box×box in both directions, and returns that picture's size.
func scaledSize(w, h, box int) (int, int) {
	fw, fh := fitSize(w, h, box)
	var n C.int
	factors := unsafe.Slice(C.tjGetScalingFactors(&n), int(n))
	bw, bh := w, h
	for _, f := range factors {
		if f.num > f.denom {
			continue
		}
		// TJSCALED: ceil(dimension × num / denom).
		sw := (w*int(f.num) + int(f.denom) - 1) / int(f.denom)
		sh := (h*int(f.num) + int(f.denom) - 1) / int(f.denom)
		if sw >= fw && sh >= fh && sw*sh < bw*bh {
			bw, bh = sw, sh
		}
	}
	return bw, bh
}

func turboError(h C.tjhandle) error {
	return errors.New("libjpeg-turbo: " + C.GoString(C.tjGetErrorStr2(h)))
}
