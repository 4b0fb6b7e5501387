// Package postgres implements Courier's stores on PostgreSQL through pgx.
// Files line up with the domain: account.go implements
// courier.AccountService, blob.go courier.BlobStore.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
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
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("database %s: %w", addr(pc), err)
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
