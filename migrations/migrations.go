// Package migrations holds Courier's SQL schema as numbered files embedded in
// the binary, and applies them in order.
//
// Each file runs in its own transaction together with the row that records
// it, so a failed migration leaves nothing half done. A session-level
// advisory lock serialises concurrent runs (two API nodes starting at once):
// the second waits, then finds nothing left to do.
package migrations

import (
	"context"
	"embed"
	"fmt"
	"hash/fnv"
	"io/fs"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

//go:embed *.sql
var files embed.FS

// Migration is one SQL file.
type Migration struct {
	Name      string     // file name, e.g. "0001_accounts.sql"
	AppliedAt *time.Time // nil when pending
}

// All returns the embedded migration names in order.
func All() []string {
	names, _ := fs.Glob(files, "*.sql")
	sort.Strings(names)
	return names
}

// Up applies every pending migration and returns the names it applied.
func Up(ctx context.Context, pool *pgxpool.Pool) ([]string, error) {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("migrations: acquire connection: %w", err)
	}
	defer conn.Release()

	// The lock is per schema so isolated test schemas do not wait on each other.
	var schema string
	if err := conn.QueryRow(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		return nil, fmt.Errorf("migrations: current schema: %w", err)
	}
	key := lockKey(schema)
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, key); err != nil {
		return nil, fmt.Errorf("migrations: lock: %w", err)
	}
	defer conn.Exec(context.Background(), `SELECT pg_advisory_unlock($1)`, key)

	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return nil, fmt.Errorf("migrations: create schema_migrations: %w", err)
	}
	applied, err := appliedSet(ctx, conn.Conn())
	if err != nil {
		return nil, err
	}

	var done []string
	for _, name := range All() {
		if _, ok := applied[name]; ok {
			continue
		}
		sql, err := files.ReadFile(name)
		if err != nil {
			return done, err
		}
		err = pgx.BeginFunc(ctx, conn.Conn(), func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, string(sql)); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO schema_migrations (name) VALUES ($1)`, name)
			return err
		})
		if err != nil {
			return done, fmt.Errorf("migrations: apply %s: %w", name, err)
		}
		done = append(done, name)
	}
	return done, nil
}

// Status lists every embedded migration and when it was applied.
func Status(ctx context.Context, pool *pgxpool.Pool) ([]Migration, error) {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("migrations: acquire connection: %w", err)
	}
	defer conn.Release()

	var exists bool
	if err := conn.QueryRow(ctx, `SELECT to_regclass('schema_migrations') IS NOT NULL`).Scan(&exists); err != nil {
		return nil, fmt.Errorf("migrations: status: %w", err)
	}
	applied := map[string]time.Time{}
	if exists {
		if applied, err = appliedSet(ctx, conn.Conn()); err != nil {
			return nil, err
		}
	}
	var out []Migration
	for _, name := range All() {
		m := Migration{Name: name}
		if at, ok := applied[name]; ok {
			m.AppliedAt = &at
		}
		out = append(out, m)
	}
	return out, nil
}

func appliedSet(ctx context.Context, conn *pgx.Conn) (map[string]time.Time, error) {
	rows, err := conn.Query(ctx, `SELECT name, applied_at FROM schema_migrations`)
	if err != nil {
		return nil, fmt.Errorf("migrations: read applied: %w", err)
	}
	applied := map[string]time.Time{}
	for rows.Next() {
		var name string
		var at time.Time
		if err := rows.Scan(&name, &at); err != nil {
			return nil, err
		}
		applied[name] = at
	}
	return applied, rows.Err()
}

func lockKey(schema string) int64 {
	h := fnv.New64a()
	h.Write([]byte("courier.migrations." + strings.ToLower(schema)))
	return int64(h.Sum64())
}
