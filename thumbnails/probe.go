package thumbnails

import (
	"fmt"
	"image"
	"io"

	"github.com/courier-chat/courier"
)

// Info is what an image's header tells.
type Info struct {
	Format string // FormatJPEG, FormatPNG, …
	// Width and Height are as displayed, after Orientation.
	Width, Height int
	// Orientation is the EXIF orientation (1–8) that Process applies; 1
	// for formats without one and for HEIC, whose rotation libheif applies.
	Orientation int
	// DecodedPixels is the size of the largest picture decoding makes:
	// width×height, or more when a container understates its coded
	// stream (a HEIC whose ispe says 64×64 over a 16000×16000 frame).
	// Limits.MaxPixels bounds it too, and memory estimates use it.
	DecodedPixels int64
}

// Probe reads only the header of the image in r (size bytes long) and
// refuses it, with ETOOLARGE, when it is over the limits, or, with
// EINVALID, when it is no image we can decode. No pixel is decoded, so a
// 100000×100000 bomb in a few hundred bytes costs a few hundred bytes.
func Probe(r io.ReadSeeker, size int64, lim Limits) (Info, error) {
	lim = lim.withDefaults()
	if size > lim.MaxBytes {
		return Info{}, courier.Errorf(courier.ETOOLARGE, "image is %d bytes; the limit is %d", size, lim.MaxBytes)
	}
	return probe(&seekReaderAt{r: r}, size, lim)
}

func probe(ra io.ReaderAt, size int64, lim Limits) (Info, error) {
	head := make([]byte, 32)
	n, _ := ra.ReadAt(head, 0)
	format := sniff(head[:n])
	if format == "" {
		return Info{}, courier.Errorf(courier.EINVALID, "unsupported image format")
	}
	cfg, decoded, err := decodeConfig(format, ra, size)
	if err != nil {
		return Info{}, corrupt(format, err)
	}
	if err := lim.check(cfg.Width, cfg.Height, size); err != nil {
		return Info{}, err
	}
	if decoded != image.Pt(cfg.Width, cfg.Height) && lim.check(decoded.X, decoded.Y, size) != nil {
		return Info{}, courier.Errorf(courier.ETOOLARGE, "image codes %dx%d pixels (its header says %dx%d); the limit is %d pixels",
			decoded.X, decoded.Y, cfg.Width, cfg.Height, lim.MaxPixels)
	}
	info := Info{Format: format, Width: cfg.Width, Height: cfg.Height,
		DecodedPixels: max(int64(cfg.Width)*int64(cfg.Height), int64(decoded.X)*int64(decoded.Y))}
	info.Orientation = readOrientation(format, ra, size)
	if swapsAxes(info.Orientation) {
		info.Width, info.Height = info.Height, info.Width
	}
	return info, nil
}

// decodeConfig reads the stored width and height from the header, and
// the size of the largest picture decoding makes.
func decodeConfig(format string, ra io.ReaderAt, size int64) (cfg image.Config, decoded image.Point, err error) {
	// Decoders are third-party code fed hostile input; one that panics on
	// a crafted header must cost this image, not the worker.
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("decoder panic: %v", p)
		}
	}()
	c, ok := codecs[format]
	if !ok {
		return cfg, decoded, fmt.Errorf("no decoder for %s", format)
	}
	return c.config(io.NewSectionReader(ra, 0, size))
}

// seekReaderAt gives an io.ReadSeeker the io.ReaderAt that container walks
// and the TIFF decoder want. It is not safe for concurrent use; neither is
// the ReadSeeker beneath it.
type seekReaderAt struct{ r io.ReadSeeker }

func (s *seekReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if _, err := s.r.Seek(off, io.SeekStart); err != nil {
		return 0, err
	}
	n, err := io.ReadFull(s.r, p)
	if err == io.ErrUnexpectedEOF {
		err = io.EOF
	}
	return n, err
}
