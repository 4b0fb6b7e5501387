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
	cfg, err := decodeConfig(format, ra, size)
	if err != nil {
		return Info{}, corrupt(format, err)
	}
	if err := lim.check(cfg.Width, cfg.Height, size); err != nil {
		return Info{}, err
	}
	info := Info{Format: format, Width: cfg.Width, Height: cfg.Height}
	info.Orientation = readOrientation(format, ra, size)
	if swapsAxes(info.Orientation) {
		info.Width, info.Height = info.Height, info.Width
	}
	return info, nil
}

// decodeConfig reads the stored width and height from the header.
func decodeConfig(format string, ra io.ReaderAt, size int64) (cfg image.Config, err error) {
	// Decoders are third-party code fed hostile input; one that panics on
	// a crafted header must cost this image, not the worker.
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("decoder panic: %v", p)
		}
	}()
	c, ok := codecs[format]
	if !ok {
		return cfg, fmt.Errorf("no decoder for %s", format)
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
