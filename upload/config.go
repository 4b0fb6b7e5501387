package upload

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"strings"
	"time"
)

// Config tunes the upload endpoint. Zero values take the defaults named in
// each comment; cmd/courier fills it from flags.
type Config struct {
	// BasePath is where the endpoint is mounted. Default "/v1/uploads/".
	BasePath string

	// MaxPlain and MaxE2E are the largest upload per mode, in bytes.
	// Creation above them answers 413 before any byte is stored.
	// Default 2 GiB each.
	MaxPlain, MaxE2E int64
	// MaxInProgress is how many unfinished uploads a user may have.
	// Default 20.
	MaxInProgress int
	// MaxBytesInProgress bounds the declared sizes of a user's unfinished
	// uploads, summed. Uploads with a deferred length count as 0 until
	// they declare it; each is still bounded by its mode's maximum.
	// Default 8 GiB.
	MaxBytesInProgress int64

	// Expiry is how long after its creation or last PATCH an unfinished
	// upload is kept (the Upload-Expires header). Default 24h.
	Expiry time.Duration
	// SweepInterval is how often one node looks for expired uploads.
	// Default Expiry/10, clamped to [100ms, 1m].
	SweepInterval time.Duration

	// TempDir holds s3store's part files while they are sent to S3.
	// Default os.TempDir().
	TempDir string
	// PartSize is the S3 multipart part size s3store aims for. Larger
	// parts mean fewer S3 requests; each part is written to TempDir first,
	// never held in memory. Default 16 MiB.
	PartSize int64
	// BufferedParts is how many parts may wait on disk while others are
	// sent to S3, per request. Default 4.
	BufferedParts int64

	// NetworkTimeout ends a request whose body sends nothing for this
	// long: a phone that went away without closing its connection.
	// Default 30s (tusd's is 60s; see docs/uploads.md).
	NetworkTimeout time.Duration
	// ProgressInterval is how often a long draft request (interop
	// version 5 on) tells the client its offset with a 104 response.
	// Default 1s.
	ProgressInterval time.Duration
	// AcquireLockTimeout is how long a request waits for another request
	// on the same upload to release it. Default 20s.
	AcquireLockTimeout time.Duration
	// GracefulCompletion is how long a store may keep saving after its
	// request ended (an interrupted PATCH flushing its last part). Must
	// be below AcquireLockTimeout. Default 10s.
	GracefulCompletion time.Duration

	// TrustedProxies lists the load balancers (comma-separated IPs or
	// CIDRs) whose Forwarded, X-Forwarded-Host and X-Forwarded-Proto
	// headers the upload URLs in Location follow. From anyone else those
	// headers are ignored: a client could otherwise point the URL its
	// upload continues at to a host of its choosing. Default "" (none).
	TrustedProxies string

	// Logger gets warnings and errors. Default slog.Default().
	Logger *slog.Logger

	trusted []netip.Prefix
}

func (c *Config) setDefaults() error {
	if c.BasePath == "" {
		c.BasePath = "/v1/uploads/"
	}
	if c.MaxPlain <= 0 {
		c.MaxPlain = 2 << 30
	}
	if c.MaxE2E <= 0 {
		c.MaxE2E = 2 << 30
	}
	if c.MaxInProgress <= 0 {
		c.MaxInProgress = 20
	}
	if c.MaxBytesInProgress <= 0 {
		c.MaxBytesInProgress = 8 << 30
	}
	if c.Expiry <= 0 {
		c.Expiry = 24 * time.Hour
	}
	if c.SweepInterval <= 0 {
		c.SweepInterval = min(max(c.Expiry/10, 100*time.Millisecond), time.Minute)
	}
	if c.TempDir == "" {
		c.TempDir = os.TempDir()
	}
	if c.PartSize <= 0 {
		c.PartSize = 16 << 20
	}
	if c.BufferedParts <= 0 {
		c.BufferedParts = 4
	}
	if c.NetworkTimeout <= 0 {
		c.NetworkTimeout = 30 * time.Second
	}
	if c.ProgressInterval <= 0 {
		c.ProgressInterval = time.Second
	}
	if c.AcquireLockTimeout <= 0 {
		c.AcquireLockTimeout = 20 * time.Second
	}
	if c.GracefulCompletion <= 0 {
		c.GracefulCompletion = 10 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	var errs []error
	for v := range strings.SplitSeq(c.TrustedProxies, ",") {
		if v = strings.TrimSpace(v); v == "" {
			continue
		}
		p, err := netip.ParsePrefix(v)
		if a, aerr := netip.ParseAddr(v); aerr == nil {
			p, err = a.Prefix(a.BitLen())
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("upload trusted proxies: %q is not an IP or CIDR", v))
			continue
		}
		c.trusted = append(c.trusted, p.Masked())
	}
	if c.PartSize < 5<<20 {
		errs = append(errs, fmt.Errorf("upload part size %d: S3 needs at least 5 MiB", c.PartSize))
	}
	if c.GracefulCompletion >= c.AcquireLockTimeout {
		errs = append(errs, errors.New("upload graceful completion must be below the lock timeout"))
	}
	if st, err := os.Stat(c.TempDir); err != nil || !st.IsDir() {
		errs = append(errs, fmt.Errorf("upload temp dir %q: not a folder", c.TempDir))
	}
	return errors.Join(errs...)
}

// maxFor returns the size limit of a mode.
func (c *Config) maxFor(mode string) int64 {
	if mode == "e2e" {
		return c.MaxE2E
	}
	return c.MaxPlain
}

// trustedProxy reports whether a request came straight from a configured
// proxy.
func (c *Config) trustedProxy(remoteAddr string) bool {
	ap, err := netip.ParseAddrPort(remoteAddr)
	if err != nil {
		return false
	}
	for _, p := range c.trusted {
		if p.Contains(ap.Addr().Unmap()) {
			return true
		}
	}
	return false
}
