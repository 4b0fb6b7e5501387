// Package postgres implements Courier's stores on PostgreSQL through pgx.
// Files line up with the domain: account.go implements
// courier.AccountService, blob.go courier.BlobStore.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/courier-chat/courier"
)

// Config says how to reach PostgreSQL.
type Config struct {
	// URL is a libpq connection string or URL.
	// Default "postgres://postgres@127.0.0.1:5432/courier?sslmode=disable".
	URL string
	// MaxConns bounds the pool. Default 20.
	MaxConns int32
	// Schema, when set, is put first on the search_path of every connection.
	// Tests use it to give each test its own schema. Default "" (public).
	Schema string
	// StartDown makes Open return the pool without checking the server
	// answers: the pool connects on first use, so an API node started
	// during a database outage serves what it can (answering
	// `unavailable` for the rest) and recovers by itself. Default false.
	StartDown bool
	// Tracer, when set, sees every statement the pool runs (tests use it
	// to check the statements of the hot path, postgres/layout_test.go).
	Tracer pgx.QueryTracer
}

// Open connects, checks the server answers, and returns the pool. Errors
// name the address that was tried.
func Open(ctx context.Context, cfg Config) (*pgxpool.Pool, error) {
	pc, err := pgxpool.ParseConfig(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("database url: %w", err)
	}
	if cfg.MaxConns > 0 {
		pc.MaxConns = cfg.MaxConns
	}
	if cfg.Schema != "" {
		pc.ConnConfig.RuntimeParams["search_path"] = cfg.Schema
	}
	pc.ConnConfig.ConnectTimeout = 5 * time.Second
	pc.ConnConfig.Tracer = cfg.Tracer
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("database %s: %w", addr(pc), err)
	}
	if cfg.StartDown {
		return pool, nil
	}
	pingCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := pool.Ping(pingCtx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("database %s: %w", addr(pc), err)
	}
	return pool, nil
}

func addr(pc *pgxpool.Config) string {
	return fmt.Sprintf("%s@%s:%d/%s", pc.ConnConfig.User, pc.ConnConfig.Host, pc.ConnConfig.Port, pc.ConnConfig.Database)
}

// isUniqueViolation reports whether err is a unique constraint violation.
func isUniqueViolation(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505"
}

// noRows reports whether err means the query found nothing.
func noRows(err error) bool { return errors.Is(err, pgx.ErrNoRows) }

// outage turns a failure to reach PostgreSQL (refused or dropped
// connection, server shutting down or starting, timeout) into
// courier.Unavailable("database", …), so clients are told to retry rather
// than shown an internal error. Exported store methods defer it on their
// error result; errors already carrying a code pass unchanged.
func outage(err *error) {
	if *err != nil && unreachable(*err) {
		*err = courier.Unavailable("database", *err)
	}
}

// unreachable reports whether err says the database could not be reached,
// as opposed to a query it refused.
func unreachable(err error) bool {
	var ce *courier.Error
	var pe *pgconn.PgError
	var ne net.Error
	switch {
	case errors.As(err, &ce):
		return false
	case errors.As(err, &pe):
		// Class 08 is connection exception; 57P01–57P03 are admin and
		// crash shutdown and "cannot connect now" (starting up);
		// 53300 is too many connections.
		return strings.HasPrefix(pe.Code, "08") || pe.Code == "57P01" || pe.Code == "57P02" ||
			pe.Code == "57P03" || pe.Code == "53300"
	}
	var connect *pgconn.ConnectError
	return errors.As(err, &connect) || pgconn.Timeout(err) || pgconn.SafeToRetry(err) ||
		errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, net.ErrClosed) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, syscall.ECONNREFUSED)
}
