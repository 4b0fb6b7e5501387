// Package testenv gives integration tests their own slice of the real
// services: a fresh PostgreSQL schema with migrations applied, a Redis key
// prefix, and a fresh S3 bucket. Addresses come from the same COURIER_*
// settings Courier reads (with COURIER_TEST_* overrides), and a service that
// does not answer fails the test loudly: `make test` starts them all.
package testenv

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/courier-chat/courier"
	"github.com/courier-chat/courier/migrations"
	"github.com/courier-chat/courier/postgres"
	"github.com/courier-chat/courier/s3"
)

// Defaults match scripts/services.sh and the defaults of `courier serve`.
const (
	DefaultDatabaseURL = "postgres://postgres@127.0.0.1:5432/courier_test?sslmode=disable"
	DefaultRedisURL    = "redis://127.0.0.1:6379/0"
	DefaultS3Endpoint  = "http://127.0.0.1:7070"
	DefaultS3AccessKey = "courier"
	DefaultS3SecretKey = "courier-dev-secret"
)

// Env returns the first non-empty of the environment variables, or def.
func Env(def string, names ...string) string {
	for _, n := range names {
		if v := os.Getenv(n); v != "" {
			return v
		}
	}
	return def
}

// DatabaseURL is the database tests use (created when missing).
func DatabaseURL() string { return Env(DefaultDatabaseURL, "COURIER_TEST_DATABASE_URL") }

// RedisURL is the Redis tests use.
func RedisURL() string { return Env(DefaultRedisURL, "COURIER_TEST_REDIS_URL", "COURIER_REDIS_URL") }

// Name returns a unique lower-case name for a schema, bucket or prefix.
func Name(kind string) string {
	return strings.ToLower(fmt.Sprintf("%s%d%s", kind, time.Now().Unix()%100000,
		strings.NewReplacer("-", "", "_", "").Replace(courier.NewID())[:8]))
}

// DB is a fresh schema with every migration applied.
type DB struct {
	Pool   *pgxpool.Pool
	URL    string // database URL
	Schema string // the test's schema; pass it to postgres.Config.Schema
}

// Tracer, when a package's TestMain sets it, traces every statement of
// every database NewDB opens.
var Tracer pgx.QueryTracer

// NewDB creates a schema for t, migrates it, and drops it when t ends.
func NewDB(t testing.TB) *DB {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	url := DatabaseURL()
	ensureDatabase(t, ctx, url)

	schema := Name("t_")
	admin, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("testenv: PostgreSQL at %s is not reachable (run `make services`): %v", url, err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, `CREATE SCHEMA `+schema); err != nil {
		t.Fatalf("testenv: create schema: %v", err)
	}
	pool, err := postgres.Open(ctx, postgres.Config{URL: url, Schema: schema, MaxConns: 10, Tracer: Tracer})
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	if _, err := migrations.Up(ctx, pool); err != nil {
		t.Fatalf("testenv: migrate: %v", err)
	}
	t.Cleanup(func() {
		pool.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if c, err := pgx.Connect(ctx, url); err == nil {
			c.Exec(ctx, `DROP SCHEMA `+schema+` CASCADE`)
			c.Close(ctx)
		}
	})
	return &DB{Pool: pool, URL: url, Schema: schema}
}

// ensureDatabase creates the test database if it does not exist yet.
func ensureDatabase(t testing.TB, ctx context.Context, url string) {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		t.Fatalf("testenv: database url %q: %v", url, err)
	}
	name := cfg.Database
	cfg.Database = "postgres"
	c, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatalf("testenv: PostgreSQL at %s:%d is not reachable (run `make services`): %v", cfg.Host, cfg.Port, err)
	}
	defer c.Close(ctx)
	var exists bool
	c.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name).Scan(&exists)
	if !exists {
		_, err := c.Exec(ctx, `CREATE DATABASE `+pgx.Identifier{name}.Sanitize())
		if err != nil && !strings.Contains(err.Error(), "already exists") {
			t.Fatalf("testenv: create database %s: %v", name, err)
		}
	}
}

// NewRedis returns a client and a key prefix unique to t. Keys under the
// prefix are deleted when t ends.
func NewRedis(t testing.TB) (*redis.Client, string) {
	t.Helper()
	opt, err := redis.ParseURL(RedisURL())
	if err != nil {
		t.Fatalf("testenv: redis url: %v", err)
	}
	rdb := redis.NewClient(opt)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := rdb.Ping(ctx).Err(); err != nil {
		t.Fatalf("testenv: Redis at %s is not reachable (run `make services`): %v", opt.Addr, err)
	}
	prefix := Name("test") + ":"
	t.Cleanup(func() {
		ctx := context.Background()
		iter := rdb.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			rdb.Del(ctx, iter.Val())
		}
		rdb.Close()
	})
	return rdb, prefix
}

// S3Config returns settings for the test S3 server with the given bucket.
func S3Config(bucket string) s3.Config {
	return s3.Config{
		Endpoint:  Env(DefaultS3Endpoint, "COURIER_TEST_S3_ENDPOINT", "COURIER_S3_ENDPOINT"),
		Region:    "us-east-1",
		AccessKey: Env(DefaultS3AccessKey, "COURIER_TEST_S3_ACCESS_KEY", "COURIER_S3_ACCESS_KEY"),
		SecretKey: Env(DefaultS3SecretKey, "COURIER_TEST_S3_SECRET_KEY", "COURIER_S3_SECRET_KEY"),
		Bucket:    bucket,
		PathStyle: true,
	}
}

// NewS3 creates a bucket for t and empties and removes it when t ends.
func NewS3(t testing.TB) (*s3.Client, s3.Config) {
	t.Helper()
	return NewS3On(t, S3Config("").Endpoint)
}

// NewS3On is NewS3 on the S3 server at endpoint (see S3Servers).
func NewS3On(t testing.TB, endpoint string) (*s3.Client, s3.Config) {
	t.Helper()
	cfg := S3Config(Name("test"))
	cfg.Endpoint = endpoint
	c, err := s3.New(cfg)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.EnsureBucket(ctx); err != nil {
		t.Fatalf("testenv: S3 at %s is not reachable (run `make services`): %v", cfg.Endpoint, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		c.RemovePrefix(ctx, "")
		c.Minio().RemoveBucket(ctx, cfg.Bucket)
	})
	return c, cfg
}
