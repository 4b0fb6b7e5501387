package thumbnails

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"io"
	"sync"
	"time"

	"github.com/courier-chat/courier"
)

// Result is what Process makes of one photo.
type Result struct {
	Format string // FormatJPEG, FormatPNG, …
	// Width and Height of the original as displayed (after orientation).
	Width, Height int
	Orientation   int  // EXIF orientation applied (1 = none)
	HasAlpha      bool // variants are PNG to keep transparency
	Thumb         Image
	Preview       Image
	Blurhash      string
	Timings       Timings
}

// Timings tell where Process spent its time, for benchmarks and metrics.
type Timings struct {
	Read     time.Duration // reading the input into memory
	Decode   time.Duration // header probe and full decode
	Resize   time.Duration // preview, thumb and orientation
	Encode   time.Duration // JPEG/PNG encoding of both variants
	Blurhash time.Duration
}

// Total is the sum of the stages.
func (t Timings) Total() time.Duration {
	return t.Read + t.Decode + t.Resize + t.Encode + t.Blurhash
}

// Process reads a photo from r, checks its header against lim before
// decoding, decodes it once, and makes the thumb, the preview and the
// blurhash. Errors carry courier codes: ETOOLARGE for files or images over
// the limits, EINVALID for unsupported or corrupt files (the message says
// why), and ctx's error when cancelled between stages.
func Process(ctx context.Context, r io.Reader, lim Limits) (*Result, error) {
	lim = lim.withDefaults()
	var res Result
	t := time.Now()
	data, err := io.ReadAll(io.LimitReader(r, lim.MaxBytes+1))
	if err != nil {
		return nil, fmt.Errorf("thumbnails: read: %w", err)
	}
	if int64(len(data)) > lim.MaxBytes {
		return nil, courier.Errorf(courier.ETOOLARGE, "image is over %d bytes", lim.MaxBytes)
	}
	res.Timings.Read = time.Since(t)

	t = time.Now()
	img, info, err := decodeBytes(data, lim, PreviewSize)
	if err != nil {
		return nil, err
	}
	res.Format, res.Width, res.Height, res.Orientation = info.Format, info.Width, info.Height, info.Orientation
	res.HasAlpha = hasAlpha(img)
	res.Timings.Decode = time.Since(t)
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	// Sizes are computed in stored orientation from the header (a JPEG may
	// have been decoded at a reduced size); the fit box is square, so
	// fitting before or after a quarter turn gives the same size.
	t = time.Now()
	sw, sh := info.Width, info.Height
	if swapsAxes(info.Orientation) {
		sw, sh = sh, sw
	}
	pw, ph := fitSize(sw, sh, PreviewSize)
	tw, th := fitSize(sw, sh, ThumbSize)
	preview := scale(img, pw, ph)
	img = nil // let the 12 MP decode go before the next allocations
	thumb := scale(preview, tw, th)
	preview, thumb = orient(preview, info.Orientation), orient(thumb, info.Orientation)
	res.Timings.Resize = time.Since(t)
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	// Two encodes and the blurhash are independent; run them side by side.
	t = time.Now()
	var wg sync.WaitGroup
	var perr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		res.Preview, perr = encode(preview, res.HasAlpha, JPEGQuality)
	}()
	res.Thumb, err = encode(thumb, res.HasAlpha, JPEGQuality)
	tb := time.Now()
	res.Blurhash = blurhash(thumb)
	res.Timings.Blurhash = time.Since(tb)
	wg.Wait()
	res.Timings.Encode = time.Since(t) - res.Timings.Blurhash
	if err != nil || perr != nil {
		return nil, fmt.Errorf("thumbnails: encode: %w", cmpOr(err, perr))
	}
	return &res, nil
}

func cmpOr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// errJPEGFallback is decodeJPEGFit's answer for a file it leaves to Go's
// decoder at full size (CMYK and YCCK JPEGs, which TurboJPEG does not turn
// into RGB).
var errJPEGFallback = errors.New("thumbnails: JPEG colour space left to Go's decoder")

// decodeBytes probes data against lim and only then decodes it. With box
// > 0 the caller needs no more than the image fitted into box×box, and a
// JPEG is decoded at the smallest size that still covers that
// (decodeJPEGFit); with 0 every format is decoded at full size.
func decodeBytes(data []byte, lim Limits, box int) (image.Image, Info, error) {
	info, err := probe(bytes.NewReader(data), int64(len(data)), lim)
	if err != nil {
		return nil, info, err
	}
	var img image.Image
	err = errJPEGFallback
	if info.Format == FormatJPEG && box > 0 {
		img, err = decodeJPEGFit(data, box)
	}
	if err == errJPEGFallback {
		img, err = decode(info.Format, data)
	}
	if err != nil {
		return nil, info, corrupt(info.Format, err)
	}
	// The header was checked; check what the decoder actually made, in
	// case a container (a HEIC grid, a GIF frame) disagreed with it.
	b := img.Bounds()
	if err := lim.check(b.Dx(), b.Dy(), int64(len(data))); err != nil {
		return nil, info, err
	}
	return img, info, nil
}

// decode decodes the first image of data, without orientation.
func decode(format string, data []byte) (img image.Image, err error) {
	defer func() {
		if p := recover(); p != nil {
			img, err = nil, fmt.Errorf("decoder panic: %v", p)
		}
	}()
	c, ok := codecs[format]
	if !ok {
		return nil, fmt.Errorf("no decoder for %s", format)
	}
	return c.decode(bytes.NewReader(data))
}

// hasAlpha reports whether any pixel of img is not fully opaque. Every
// standard image type has an Opaque method; one without is assumed to
// have alpha, which costs a PNG rather than losing transparency.
func hasAlpha(img image.Image) bool {
	if o, ok := img.(interface{ Opaque() bool }); ok {
		return !o.Opaque()
	}
	return true
}
