package thumbnails

import (
	"fmt"

	"github.com/courier-chat/courier"
)

// Limits bound the work one image may cause. The zero value means the
// defaults.
type Limits struct {
	// MaxPixels is the largest width×height accepted, checked from the
	// header before decoding. Default 50_000_000 (a 48 MP phone sensor
	// fits; a 100000×100000 bomb does not).
	MaxPixels int64
	// MaxBytes is the largest encoded file accepted. Default 100 MiB.
	MaxBytes int64
}

// Default limits.
const (
	DefaultMaxPixels = 50_000_000
	DefaultMaxBytes  = 100 << 20
)

func (l Limits) withDefaults() Limits {
	if l.MaxPixels <= 0 {
		l.MaxPixels = DefaultMaxPixels
	}
	if l.MaxBytes <= 0 {
		l.MaxBytes = DefaultMaxBytes
	}
	return l
}

// check refuses sizes over the limits. Width and height come from an
// untrusted header, so the product is computed in int64 and the sides are
// checked first to avoid overflow.
func (l Limits) check(width, height int, size int64) error {
	if size > l.MaxBytes {
		return courier.Errorf(courier.ETOOLARGE, "image is %d bytes; the limit is %d", size, l.MaxBytes)
	}
	if width <= 0 || height <= 0 {
		return courier.Errorf(courier.EINVALID, "image has no pixels (%dx%d)", width, height)
	}
	if int64(width) > l.MaxPixels || int64(height) > l.MaxPixels || int64(width)*int64(height) > l.MaxPixels {
		return courier.Errorf(courier.ETOOLARGE, "image is %dx%d pixels; the limit is %d pixels", width, height, l.MaxPixels)
	}
	return nil
}

// corrupt wraps a decoder error as EINVALID. The decoder's own words
// ("unexpected EOF", "invalid format: missing SOI marker") say why, and are
// safe to show: they describe the client's file, not our servers.
func corrupt(format string, err error) error {
	return fmt.Errorf("thumbnails: %w", courier.Errorf(courier.EINVALID, "%s image is corrupt or truncated: %v", format, err))
}
