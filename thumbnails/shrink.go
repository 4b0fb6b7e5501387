package thumbnails

import (
	"image"
	"image/color"
	"runtime"
	"sync"

	"github.com/disintegration/imaging"
)

// boxRow sums the source rows [y0, y1) into one output row: acc holds
// per-output-column sums (scratch, zeroed by the caller), xo maps a source
// column, relative to the image's left edge, to its output column, and dst
// receives the averaged NRGBA pixels of the row.
type boxRow func(y0, y1, k int, xo []int, acc []uint64, dst []uint8)

// shrink reduces src by the integer factor k with a box filter (each output
// pixel is the mean of a k×k block; blocks at the right and bottom edges
// may be smaller) and returns it as NRGBA. With k = 1 it only converts.
// JPEG, HEIC and grey images are read straight from their planes, which
// avoids the per-pixel interface calls of image.Image.At that would
// otherwise dominate the cost at 12 megapixels.
func shrink(src image.Image, k int) *image.NRGBA {
	switch s := src.(type) {
	case *image.YCbCr:
		return shrinkRows(s.Rect, k, func(y0, y1, k int, xo []int, acc []uint64, dst []uint8) { boxYCbCr(s, y0, y1, k, xo, acc, dst) })
	case *image.Gray:
		return shrinkRows(s.Rect, k, func(y0, y1, k int, xo []int, acc []uint64, dst []uint8) { boxGray(s, y0, y1, k, xo, acc, dst) })
	case *image.NRGBA:
		return shrinkRows(s.Rect, k, func(y0, y1, k int, xo []int, acc []uint64, dst []uint8) { boxNRGBA(s, y0, y1, k, xo, acc, dst) })
	}
	// Everything else (paletted GIFs, CMYK JPEGs, 16-bit PNGs, …) is
	// converted once, in parallel, by imaging.
	return shrink(imaging.Clone(src), k)
}

// shrinkRows runs row in parallel over bands of output rows.
func shrinkRows(r image.Rectangle, k int, row boxRow) *image.NRGBA {
	w, h := r.Dx(), r.Dy()
	ow, oh := (w+k-1)/k, (h+k-1)/k
	dst := image.NewNRGBA(image.Rect(0, 0, ow, oh))
	xo := make([]int, w)
	for x := range xo {
		xo[x] = x / k
	}
	workers := min(runtime.GOMAXPROCS(0), oh)
	var wg sync.WaitGroup
	for i := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			acc := make([]uint64, 4*ow)
			for oy := i * oh / workers; oy < (i+1)*oh/workers; oy++ {
				clear(acc)
				y0 := r.Min.Y + oy*k
				row(y0, min(y0+k, r.Max.Y), k, xo, acc, dst.Pix[oy*dst.Stride:oy*dst.Stride+4*ow])
			}
		}()
	}
	wg.Wait()
	return dst
}

// area is how many source pixels output column ox averages.
func area(ox, k, w, rows int) uint64 {
	return uint64(min(k, w-ox*k) * rows)
}

func boxYCbCr(s *image.YCbCr, y0, y1, k int, xo []int, acc []uint64, dst []uint8) {
	w := s.Rect.Dx()
	cxs, cys := chromaShift(s.SubsampleRatio)
	// Chroma column of source column x: ((minX+x)>>cxs) - (minX>>cxs).
	minX, cx0 := s.Rect.Min.X, s.Rect.Min.X>>cxs
	for y := y0; y < y1; y++ {
		yrow := s.Y[(y-s.Rect.Min.Y)*s.YStride:][:w]
		crow := ((y >> cys) - (s.Rect.Min.Y >> cys)) * s.CStride
		cb, cr := s.Cb[crow:], s.Cr[crow:]
		for x, v := range yrow {
			o := 3 * xo[x]
			ci := ((minX + x) >> cxs) - cx0
			acc[o] += uint64(v)
			acc[o+1] += uint64(cb[ci])
			acc[o+2] += uint64(cr[ci])
		}
	}
	// Averaging in YCbCr and converting once equals averaging RGB, the
	// conversion being affine, up to clamping at the gamut's edge.
	for ox := 0; ox < len(dst)/4; ox++ {
		n := area(ox, k, w, y1-y0)
		r, g, b := color.YCbCrToRGB(uint8((acc[3*ox]+n/2)/n), uint8((acc[3*ox+1]+n/2)/n), uint8((acc[3*ox+2]+n/2)/n))
		dst[4*ox], dst[4*ox+1], dst[4*ox+2], dst[4*ox+3] = r, g, b, 0xFF
	}
}

// chromaShift gives, per subsampling ratio, how far to shift a luma
// coordinate right to get its chroma coordinate.
func chromaShift(r image.YCbCrSubsampleRatio) (x, y int) {
	switch r {
	case image.YCbCrSubsampleRatio422:
		return 1, 0
	case image.YCbCrSubsampleRatio420:
		return 1, 1
	case image.YCbCrSubsampleRatio440:
		return 0, 1
	case image.YCbCrSubsampleRatio411:
		return 2, 0
	case image.YCbCrSubsampleRatio410:
		return 2, 1
	}
	return 0, 0
}

func boxGray(s *image.Gray, y0, y1, k int, xo []int, acc []uint64, dst []uint8) {
	w := s.Rect.Dx()
	for y := y0; y < y1; y++ {
		for x, v := range s.Pix[(y-s.Rect.Min.Y)*s.Stride:][:w] {
			acc[xo[x]] += uint64(v)
		}
	}
	for ox := 0; ox < len(dst)/4; ox++ {
		n := area(ox, k, w, y1-y0)
		v := uint8((acc[ox] + n/2) / n)
		dst[4*ox], dst[4*ox+1], dst[4*ox+2], dst[4*ox+3] = v, v, v, 0xFF
	}
}

// boxNRGBA weights each colour by its alpha, so that the invisible colour
// of transparent pixels does not bleed into the edges of what is visible.
func boxNRGBA(s *image.NRGBA, y0, y1, k int, xo []int, acc []uint64, dst []uint8) {
	w := s.Rect.Dx()
	for y := y0; y < y1; y++ {
		row := s.Pix[(y-s.Rect.Min.Y)*s.Stride:][:4*w]
		for x := 0; x < w; x++ {
			p := row[4*x : 4*x+4 : 4*x+4]
			a := uint64(p[3])
			o := 4 * xo[x]
			acc[o] += uint64(p[0]) * a
			acc[o+1] += uint64(p[1]) * a
			acc[o+2] += uint64(p[2]) * a
			acc[o+3] += a
		}
	}
	for ox := 0; ox < len(dst)/4; ox++ {
		n := area(ox, k, w, y1-y0)
		sa := acc[4*ox+3]
		d := dst[4*ox : 4*ox+4 : 4*ox+4]
		if sa == 0 {
			d[0], d[1], d[2], d[3] = 0, 0, 0, 0
			continue
		}
		d[0] = uint8((acc[4*ox] + sa/2) / sa)
		d[1] = uint8((acc[4*ox+1] + sa/2) / sa)
		d[2] = uint8((acc[4*ox+2] + sa/2) / sa)
		d[3] = uint8((sa + n/2) / n)
	}
}
