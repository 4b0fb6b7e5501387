package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/hibiken/asynq"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/redis/go-redis/v9"

	"github.com/courier-chat/courier"
	"github.com/courier-chat/courier/api"
	"github.com/courier-chat/courier/migrations"
	"github.com/courier-chat/courier/postgres"
	"github.com/courier-chat/courier/s3"
	"github.com/courier-chat/courier/web"
	"github.com/courier-chat/courier/worker"
)

// Main is one Courier process. Run opens everything and returns once it is
// serving; Close shuts it down gracefully. Tests run it in-process on :0.
type Main struct {
	Mode   string // "serve", "worker" or "dev"
	Config Config
	Logger *slog.Logger

	Registry *prometheus.Registry
	DB       *pgxpool.Pool
	Redis    *redis.Client
	S3       *s3.Client
	API      *api.Server   // nil for workers
	Worker   *asynq.Server // nil for API-only nodes
	Queue    *asynq.Client // enqueues jobs

	serveErr chan error
	closers  []func(ctx context.Context) error // run in reverse at Close
}

// NewMain returns a Main for the given mode.
func NewMain(mode string) *Main {
	return &Main{Mode: mode, Logger: slog.Default(), serveErr: make(chan error, 1)}
}

// ParseFlags reads the configuration from args and the environment.
func (m *Main) ParseFlags(args []string, stderr io.Writer) error {
	c, _, err := parseConfig(m.Mode, args, stderr)
	if err != nil {
		return err
	}
	if m.Mode == "dev" {
		c.OpenSignup, c.AutoMigrate = true, true
	}
	m.Config = c
	return nil
}

// Run connects to every service, then starts the API and/or worker.
func (m *Main) Run(ctx context.Context) error {
	m.Logger = newLogger(m.Config.LogFormat, m.Config.LogLevel, os.Stderr)
	m.Registry = prometheus.NewRegistry()
	m.Registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if err := m.openServices(ctx); err != nil {
		return err
	}
	if err := m.serveDebug(); err != nil {
		return err
	}
	if m.Mode == "serve" || m.Mode == "dev" {
		if err := m.startAPI(ctx); err != nil {
			return err
		}
	}
	if m.Mode == "worker" || m.Mode == "dev" {
		if err := m.startWorker(ctx); err != nil {
			return err
		}
	}
	return nil
}

// openServices connects to PostgreSQL, Redis and S3. Each error names the
// address or bucket that was tried. Only settings that cannot work stop
// the start: a dependency that does not answer yet is logged and named by
// /readyz, and the node recovers when it returns (unless migrations must
// run first, which needs the database).
func (m *Main) openServices(ctx context.Context) error {
	c := m.Config
	db, err := postgres.Open(ctx, postgres.Config{URL: c.DatabaseURL, MaxConns: int32(c.DatabaseConns), StartDown: !c.AutoMigrate})
	if err != nil {
		return err
	}
	m.DB = db
	m.onClose(func(context.Context) error { db.Close(); return nil })
	m.Registry.MustRegister(postgres.NewPoolCollector(db))
	pingCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if c.AutoMigrate {
		applied, err := migrations.Up(ctx, db)
		if err != nil {
			return err
		}
		m.Logger.Info("migrations applied", "count", len(applied))
	} else if err := db.Ping(pingCtx); err != nil {
		m.Logger.Warn("database not answering yet; starting anyway", "err", err)
	}

	opt, err := redis.ParseURL(c.RedisURL)
	if err != nil {
		return fmt.Errorf("redis-url: %w", err)
	}
	redis.SetLogger(redisLogger{m.Logger})
	m.Redis = redis.NewClient(opt)
	m.onClose(func(context.Context) error { return m.Redis.Close() })
	if err := m.Redis.Ping(pingCtx).Err(); err != nil {
		m.Logger.Warn("redis not answering yet; starting anyway", "addr", opt.Addr, "err", err)
	}
	m.Queue = asynq.NewClientFromRedisClient(m.Redis)

	if m.S3, err = s3.New(c.S3); err != nil {
		return err
	}
	if err := m.S3.EnsureBucket(pingCtx); err != nil {
		m.Logger.Warn("storage not answering yet; starting anyway", "err", err)
		m.ensureBucketLater()
	}
	return nil
}

// ensureBucketLater retries EnsureBucket until it succeeds or Main closes,
// for a node started while storage was down.
func (m *Main) ensureBucketLater() {
	ctx, cancel := context.WithCancel(context.Background())
	m.onClose(func(context.Context) error { cancel(); return nil })
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-time.After(2 * time.Second):
			}
			tctx, tcancel := context.WithTimeout(ctx, 5*time.Second)
			err := m.S3.EnsureBucket(tctx)
			tcancel()
			if err == nil {
				m.Logger.Info("storage answers; bucket ready")
				return
			}
		}
	}()
}

func (m *Main) startAPI(ctx context.Context) error {
	c := m.Config
	accounts := postgres.NewAccountService(m.DB)
	m.API = api.NewServer(api.Config{
		Addr:                 c.HTTPAddr,
		AdminSecret:          c.AdminSecret,
		OpenSignup:           c.OpenSignup,
		ReadHeaderTimeout:    c.HTTPReadHeaderTimeout,
		ReadTimeout:          c.HTTPReadTimeout,
		WriteTimeout:         c.HTTPWriteTimeout,
		IdleTimeout:          c.HTTPIdleTimeout,
		MaxPreauthConnsPerIP: c.HTTPPreauthPerIP,
	}, accounts, m.Logger, m.Registry)
	m.API.AddReadyCheck("postgres", func(ctx context.Context) error { return m.DB.Ping(ctx) })
	m.API.AddReadyCheck("redis", func(ctx context.Context) error { return m.Redis.Ping(ctx).Err() })
	m.API.AddReadyCheck("s3", m.S3.Ping)
	if err := m.mountUploads(ctx); err != nil {
		return err
	}
	if err := m.mountMessaging(ctx); err != nil {
		return err
	}
	m.mountKeys()
	m.mountAdmin()
	// The web client at /: patterns for its own files only, so the API's
	// routes and its JSON 404 are untouched.
	web.Mount(m.API, api.NotFound)
	if err := m.API.Listen(); err != nil {
		return fmt.Errorf("http-addr %s: %w", c.HTTPAddr, err)
	}
	go func() { m.serveErr <- m.API.Serve() }()
	// The API stops first at Close, so in-flight requests finish while the
	// database and Redis are still open.
	m.onClose(m.API.Shutdown)
	m.Logger.Info("api listening", "addr", m.API.Addr().String(), "mode", m.Mode, "version", Version)
	return nil
}

func (m *Main) startWorker(ctx context.Context) error {
	if m.Mode == "worker" {
		// No API here to show the job metrics: a listener of its own.
		if err := m.serveWorkerMetrics(); err != nil {
			return err
		}
	}
	srv := asynq.NewServerFromRedisClient(m.Redis, asynq.Config{
		Concurrency:     m.Config.WorkerConcurrency,
		Queues:          workerQueues(),
		RetryDelayFunc:  worker.RetryDelay,
		ShutdownTimeout: m.Config.ShutdownTimeout,
		Logger:          asynqLogger{m.Logger.With("component", "asynq")},
	})
	mux, err := m.workerMux()
	if err != nil {
		return err
	}
	if err := srv.Start(mux); err != nil {
		return fmt.Errorf("worker: %w", err)
	}
	m.Worker = srv
	m.onClose(func(context.Context) error { srv.Shutdown(); return nil })
	if err := m.startUploadReconciler(ctx); err != nil {
		return fmt.Errorf("upload reconciler: %w", err)
	}
	m.Logger.Info("worker started", "concurrency", m.Config.WorkerConcurrency)
	return nil
}

func (m *Main) onClose(f func(ctx context.Context) error) { m.closers = append(m.closers, f) }

// Close stops serving and releases everything, within ShutdownTimeout.
func (m *Main) Close() error {
	timeout := m.Config.ShutdownTimeout
	if timeout <= 0 {
		timeout = 20 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var errs []error
	for i := len(m.closers) - 1; i >= 0; i-- {
		if err := m.closers[i](ctx); err != nil {
			errs = append(errs, err)
		}
	}
	m.closers = nil
	return errors.Join(errs...)
}

func newLogger(format, level string, w io.Writer) *slog.Logger {
	var lv slog.Level
	lv.UnmarshalText([]byte(level))
	opts := &slog.HandlerOptions{Level: lv}
	if format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// redisLogger takes go-redis's own log lines (a failed dial is one per
// attempt, several a second while Redis is down) into the process log,
// once per interval.
type redisLogger struct{ l *slog.Logger }

func (r redisLogger) Printf(_ context.Context, format string, v ...any) {
	courier.Repeats.Log(r.l, slog.LevelWarn, "redis client", "redis: "+fmt.Sprintf(format, v...))
}
