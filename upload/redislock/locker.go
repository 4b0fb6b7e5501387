package redislock

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/tus/tusd/v2/pkg/handler"
)

// Defaults for Config. The lease is long enough to ride out a Redis
// failover blip and short enough that a crashed node blocks its uploads for
// a few seconds only.
const (
	DefaultPrefix    = "courier:tuslock:"
	DefaultLeaseTTL  = 10 * time.Second
	DefaultPollMin   = 25 * time.Millisecond
	DefaultPollMax   = time.Second
	DefaultOpTimeout = 3 * time.Second
)

// ErrUnavailable is returned by Lock when Redis cannot be reached. tusd
// sends it as a 503, which tus clients treat as "retry later" rather than a
// failed upload.
var ErrUnavailable = handler.NewError("ERR_LOCK_UNAVAILABLE", "upload lock service unavailable", http.StatusServiceUnavailable)

// Config tunes a Locker. The zero value is ready to use.
type Config struct {
	// Prefix starts every key and pub/sub channel the locker uses. Tests
	// give each run its own. Default "courier:tuslock:".
	Prefix string
	// LeaseTTL is how long a lock outlives its holder's last renewal; the
	// holder renews it every LeaseTTL/3. Default 10s.
	LeaseTTL time.Duration
	// PollMin and PollMax bound the backoff between acquisition attempts
	// while another holder has the lock. Polling only matters when a
	// notification was missed (a holder that died never says "unlocked").
	// Defaults 25ms and 1s.
	PollMin, PollMax time.Duration
	// OpTimeout bounds each Redis call made by Lock and Unlock. Default 3s.
	OpTimeout time.Duration
	// Logger receives lease-loss and Redis errors. Default slog.Default().
	Logger *slog.Logger
}

// Locker is a handler.Locker whose locks live in Redis, so they hold across
// every API node that shares the Redis. Create one per process with New and
// share it between requests; Close it on shutdown.
type Locker struct {
	client redis.UniversalClient
	cfg    Config
	log    *slog.Logger
	hub    *hub
	closed chan struct{} // closed by Close: renewals stop
	once   sync.Once
}

var _ handler.Locker = (*Locker)(nil)

// New returns a Locker on client. It opens one pub/sub connection, shared by
// every lock this node holds or waits for.
func New(client redis.UniversalClient, cfg Config) *Locker {
	if client == nil {
		panic("redislock: nil redis client")
	}
	if cfg.Prefix == "" {
		cfg.Prefix = DefaultPrefix
	}
	if cfg.LeaseTTL <= 0 {
		cfg.LeaseTTL = DefaultLeaseTTL
	}
	// Millisecond precision is what PX takes; below that renewal every
	// TTL/3 would spin.
	cfg.LeaseTTL = max(cfg.LeaseTTL, 30*time.Millisecond)
	if cfg.PollMin <= 0 {
		cfg.PollMin = DefaultPollMin
	}
	if cfg.PollMax <= 0 {
		cfg.PollMax = DefaultPollMax
	}
	cfg.PollMax = max(cfg.PollMax, cfg.PollMin)
	if cfg.OpTimeout <= 0 {
		cfg.OpTimeout = DefaultOpTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	log := cfg.Logger.With("component", "redislock")
	return &Locker{
		client: client,
		cfg:    cfg,
		log:    log,
		hub:    newHub(client, cfg.Prefix+"ch:", cfg.OpTimeout, log),
		closed: make(chan struct{}),
	}
}

// UseIn registers the locker with a tusd store composer.
func (l *Locker) UseIn(composer *handler.StoreComposer) {
	composer.UseLocker(l)
}

// NewLock returns an unlocked lock for the upload id. It makes no Redis call.
func (l *Locker) NewLock(id string) (handler.Lock, error) {
	return &lock{locker: l, id: id, key: l.cfg.Prefix + id}, nil
}

// Close stops the shared subscription. Locks still held are not released:
// their leases stop being renewed and expire within LeaseTTL, so unlock
// them (let tusd finish its requests) before closing.
func (l *Locker) Close() error {
	var err error
	l.once.Do(func() {
		close(l.closed)
		err = l.hub.close()
	})
	return err
}

// channel is the pub/sub channel that carries release requests and unlock
// notices for one upload. Keys and channels are separate namespaces in
// Redis; the "ch:" only makes MONITOR output readable.
func (l *Locker) channel(id string) string {
	return l.hub.prefix + id
}

// opContext bounds one Redis call. It deliberately ignores the caller's
// cancellation: a SET abandoned mid-flight may still have taken the lock,
// and we want to know its answer rather than guess.
func (l *Locker) opContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), l.cfg.OpTimeout)
}

// Messages on an upload's channel.
const (
	msgRelease  = "release"
	msgUnlocked = "unlocked"
)

// unlockScript deletes the lock only if it still carries the caller's token,
// then tells waiters on every node. One round trip, and atomic: a lock that
// expired and was taken by another node is never deleted.
var unlockScript = redis.NewScript(`
if redis.call("GET", KEYS[1]) == ARGV[1] then
	redis.call("DEL", KEYS[1])
	redis.call("PUBLISH", ARGV[2], "unlocked")
	return 1
end
return 0`)

// renewScript extends the lease only if the caller still holds the lock.
var renewScript = redis.NewScript(`
if redis.call("GET", KEYS[1]) == ARGV[1] then
	return redis.call("PEXPIRE", KEYS[1], ARGV[2])
end
return 0`)
