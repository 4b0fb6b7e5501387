package main

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/courier-chat/courier/messaging"
	"github.com/courier-chat/courier/s3"
	"github.com/courier-chat/courier/worker"
)

// Config is every setting of every subcommand. Each field is bound to a flag
// and its COURIER_* environment twin in bind; the default there works on a
// developer machine with scripts/services.sh.
type Config struct {
	HTTPAddr        string
	AdminSecret     string
	OpenSignup      bool
	DatabaseURL     string
	DatabaseConns   int
	RedisURL        string
	S3              s3.Config
	LogFormat       string
	LogLevel        string
	ShutdownTimeout time.Duration
	AutoMigrate     bool

	// Uploads.
	UploadMaxPlain      int64
	UploadMaxE2E        int64
	UploadExpiry        time.Duration
	UploadTempDir       string
	UploadMaxInProgress int
	UploadMaxBytes      int64
	TrustedProxies      string // comma-separated addresses or CIDRs whose X-Forwarded-* count

	// Worker.
	WorkerConcurrency  int
	WorkerDecodeMemory int64  // bytes of photo decoding at once, across jobs
	MetricsAddr        string // a standalone worker's /metrics and /healthz; "" for none
	DebugAddr          string // Go's profiler; "" for none

	// Limits of the HTTP server (api.Config says what each bounds).
	HTTPReadHeaderTimeout time.Duration
	HTTPReadTimeout       time.Duration
	HTTPWriteTimeout      time.Duration
	HTTPIdleTimeout       time.Duration

	// Messaging (realtime).
	MessageRate  int // messages per device per second
	MessageBurst int // burst of messages per device
	TypingRate   int // typing frames per device per second
	WSSendQueue  int // frames queued for a slow socket before it is dropped
	WSPerDevice  int // sockets per device per node
	WSPerUser    int // sockets per user per node

	// Push: APNs, FCM and the fallback provider (push.go).
	Push pushConfig
}

// bind registers every setting on fs. Values start from the environment
// twin when set, so flags override the environment and the environment
// overrides defaults. An unparsable environment value is reported by name.
func (c *Config) bind(fs *flag.FlagSet) error {
	b := binder{fs: fs}
	b.str(&c.HTTPAddr, "http-addr", ":8080", "address the HTTP API listens on")
	b.str(&c.AdminSecret, "admin-secret", "", "secret for account creation and /admin (X-Courier-Admin-Secret header or basic-auth password)")
	b.boolean(&c.OpenSignup, "open-signup", false, "let anyone create accounts (dev only)")
	b.str(&c.DatabaseURL, "database-url", "postgres://postgres@127.0.0.1:5432/courier?sslmode=disable", "PostgreSQL connection URL")
	b.integer(&c.DatabaseConns, "database-conns", 20, "maximum PostgreSQL connections in the pool")
	b.str(&c.RedisURL, "redis-url", "redis://127.0.0.1:6379/0", "Redis URL (events, upload locks, job queues)")
	b.str(&c.S3.Endpoint, "s3-endpoint", "http://127.0.0.1:7070", "S3 endpoint URL")
	b.str(&c.S3.Region, "s3-region", "us-east-1", "S3 region")
	b.str(&c.S3.AccessKey, "s3-access-key", "courier", "S3 access key")
	b.str(&c.S3.SecretKey, "s3-secret-key", "courier-dev-secret", "S3 secret key")
	b.str(&c.S3.Bucket, "s3-bucket", "courier", "S3 bucket (created at start when missing)")
	b.boolean(&c.S3.PathStyle, "s3-path-style", true, "use path-style S3 addressing")
	b.str(&c.LogFormat, "log-format", "json", "log format: json or text")
	b.str(&c.LogLevel, "log-level", "info", "log level: debug, info, warn or error")
	b.duration(&c.ShutdownTimeout, "shutdown-timeout", 20*time.Second, "how long in-flight requests may finish after SIGTERM")
	b.boolean(&c.AutoMigrate, "auto-migrate", false, "apply migrations at start (always on in dev)")
	b.int64(&c.UploadMaxPlain, "upload-max-plain", 2<<30, "largest plain upload in bytes")
	b.int64(&c.UploadMaxE2E, "upload-max-e2e", 2<<30, "largest e2e upload in bytes")
	b.duration(&c.UploadExpiry, "upload-expiry", 24*time.Hour, "unfinished uploads expire this long after their creation or last PATCH")
	b.str(&c.UploadTempDir, "upload-temp-dir", os.TempDir(), "folder for tusd's temporary part files")
	b.integer(&c.UploadMaxInProgress, "upload-max-in-progress", 20, "uploads in progress per user")
	b.int64(&c.UploadMaxBytes, "upload-max-bytes-in-progress", 8<<30, "bytes of uploads in progress per user")
	b.str(&c.TrustedProxies, "trusted-proxies", "", "comma-separated IPs or CIDRs of the load balancers whose Forwarded / X-Forwarded-Host / X-Forwarded-Proto headers upload URLs follow; empty trusts none")
	b.integer(&c.WorkerConcurrency, "worker-concurrency", 4, "jobs a worker runs at once")
	b.int64(&c.WorkerDecodeMemory, "worker-decode-memory", worker.DefaultDecodeMemory, "bytes of photo decoding a worker runs at once, across jobs: each photo waits for its estimate (from its header), one needing more is refused")
	b.str(&c.MetricsAddr, "metrics-addr", ":9091", "address courier worker serves /metrics and /healthz on, empty for none (serve and dev show the same on the API's /metrics)")
	b.str(&c.DebugAddr, "debug-addr", "", "address serving Go's profiler at /debug/pprof/ (unauthenticated: loopback only), empty for none")
	b.duration(&c.HTTPReadHeaderTimeout, "http-read-header-timeout", 10*time.Second, "longest a client may take to send a request's headers")
	b.duration(&c.HTTPReadTimeout, "http-read-timeout", 30*time.Second, "longest a request body may send nothing (an upload that keeps sending runs as long as it needs)")
	b.duration(&c.HTTPWriteTimeout, "http-write-timeout", 30*time.Second, "longest a response (a download) may wait for the client to read more")
	b.duration(&c.HTTPIdleTimeout, "http-idle-timeout", 120*time.Second, "an idle keep-alive connection is closed after this")
	b.integer(&c.MessageRate, "message-rate", 20, "messages per device per second (token bucket, per API node)")
	b.integer(&c.MessageBurst, "message-burst", 40, "burst of messages per device")
	b.integer(&c.TypingRate, "typing-rate", 5, "typing frames per device per second")
	b.integer(&c.WSSendQueue, "ws-send-queue", 256, "frames queued for a WebSocket before it is dropped as a slow consumer")
	b.integer(&c.WSPerDevice, "ws-max-per-device", messaging.DefaultMaxSocketsPerDevice, "WebSockets one device may hold on a node; a newer one closes the oldest with 4002")
	b.integer(&c.WSPerUser, "ws-max-per-user", messaging.DefaultMaxSocketsPerUser, "WebSockets one user may hold on a node; a newer one closes the oldest with 4002")
	c.Push.bind(&b)
	return b.err
}

// Validate checks settings that parse but make no sense, naming the setting.
func (c *Config) Validate() error {
	var errs []error
	if _, _, err := net.SplitHostPort(c.HTTPAddr); err != nil {
		errs = append(errs, fmt.Errorf("http-addr %q: %v", c.HTTPAddr, err))
	}
	if u, err := url.Parse(c.DatabaseURL); err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		errs = append(errs, fmt.Errorf("database-url %q: want postgres://user@host:port/db", c.DatabaseURL))
	}
	if u, err := url.Parse(c.RedisURL); err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") {
		errs = append(errs, fmt.Errorf("redis-url %q: want redis://host:port/db", c.RedisURL))
	}
	if err := c.S3.Validate(); err != nil {
		errs = append(errs, err)
	}
	if c.LogFormat != "json" && c.LogFormat != "text" {
		errs = append(errs, fmt.Errorf("log-format %q: want json or text", c.LogFormat))
	}
	if c.DatabaseConns < 2 {
		errs = append(errs, fmt.Errorf("database-conns %d: want at least 2", c.DatabaseConns))
	}
	if c.UploadMaxPlain <= 0 || c.UploadMaxE2E <= 0 {
		errs = append(errs, errors.New("upload-max-plain and upload-max-e2e must be positive"))
	}
	if _, _, err := net.SplitHostPort(c.MetricsAddr); c.MetricsAddr != "" && err != nil {
		errs = append(errs, fmt.Errorf("metrics-addr %q: %v", c.MetricsAddr, err))
	}
	if _, _, err := net.SplitHostPort(c.DebugAddr); c.DebugAddr != "" && err != nil {
		errs = append(errs, fmt.Errorf("debug-addr %q: %v", c.DebugAddr, err))
	}
	if c.WorkerConcurrency < 1 {
		errs = append(errs, fmt.Errorf("worker-concurrency %d: want at least 1", c.WorkerConcurrency))
	}
	if c.WorkerDecodeMemory < 64<<20 {
		errs = append(errs, fmt.Errorf("worker-decode-memory %d: want at least 64 MiB (one 12 MP JPEG needs about 40)", c.WorkerDecodeMemory))
	}
	errs = append(errs, c.Push.validate()...)
	if c.HTTPReadHeaderTimeout <= 0 || c.HTTPReadTimeout <= 0 || c.HTTPWriteTimeout <= 0 || c.HTTPIdleTimeout <= 0 {
		errs = append(errs, errors.New("http-read-header-timeout, http-read-timeout, http-write-timeout and http-idle-timeout must be positive"))
	}
	if c.MessageRate < 1 || c.MessageBurst < 1 || c.TypingRate < 1 || c.WSSendQueue < 1 || c.WSPerDevice < 1 || c.WSPerUser < 1 {
		errs = append(errs, errors.New("message-rate, message-burst, typing-rate, ws-send-queue, ws-max-per-device and ws-max-per-user must be positive"))
	}
	return errors.Join(errs...)
}

// envName is the environment twin of a flag: http-addr → COURIER_HTTP_ADDR.
func envName(flagName string) string {
	return "COURIER_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

type binder struct {
	fs  *flag.FlagSet
	err error
}

func (b *binder) usage(name, usage string) string {
	return fmt.Sprintf("%s (env %s)", usage, envName(name))
}

// env returns the environment twin's value, if set.
func (b *binder) env(name string) (string, bool) {
	return os.LookupEnv(envName(name))
}

func (b *binder) fail(name, v string, err error) {
	if b.err == nil {
		b.err = fmt.Errorf("%s=%q: %v", envName(name), v, err)
	}
}

func (b *binder) str(p *string, name, def, usage string) {
	if v, ok := b.env(name); ok {
		def = v
	}
	b.fs.StringVar(p, name, def, b.usage(name, usage))
}

func (b *binder) boolean(p *bool, name string, def bool, usage string) {
	if v, ok := b.env(name); ok {
		parsed, err := strconv.ParseBool(v)
		if err != nil {
			b.fail(name, v, err)
		}
		def = parsed
	}
	b.fs.BoolVar(p, name, def, b.usage(name, usage))
}

func (b *binder) integer(p *int, name string, def int, usage string) {
	if v, ok := b.env(name); ok {
		parsed, err := strconv.Atoi(v)
		if err != nil {
			b.fail(name, v, err)
		}
		def = parsed
	}
	b.fs.IntVar(p, name, def, b.usage(name, usage))
}

func (b *binder) int64(p *int64, name string, def int64, usage string) {
	if v, ok := b.env(name); ok {
		parsed, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			b.fail(name, v, err)
		}
		def = parsed
	}
	b.fs.Int64Var(p, name, def, b.usage(name, usage))
}

func (b *binder) duration(p *time.Duration, name string, def time.Duration, usage string) {
	if v, ok := b.env(name); ok {
		parsed, err := time.ParseDuration(v)
		if err != nil {
			b.fail(name, v, err)
		}
		def = parsed
	}
	b.fs.DurationVar(p, name, def, b.usage(name, usage))
}
