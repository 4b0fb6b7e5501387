package migrations_test

import (
	"context"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/courier-chat/courier/internal/testenv"
	"github.com/courier-chat/courier/migrations"
	"github.com/courier-chat/courier/postgres"
)

// emptySchema returns a pool on a fresh schema with nothing applied.
func emptySchema(t *testing.T) (*testenv.DB, func() *pgxpool.Pool) {
	t.Helper()
	db := testenv.NewDB(t) // creates and migrates a schema; we use a second, empty one
	ctx := context.Background()
	schema := testenv.Name("m_")
	c, err := pgx.Connect(ctx, db.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	if _, err := c.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), db.URL)
		if err == nil {
			c.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
			c.Close(context.Background())
		}
	})
	open := func() *pgxpool.Pool {
		pool, err := postgres.Open(ctx, postgres.Config{URL: db.URL, Schema: schema, MaxConns: 4})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(pool.Close)
		return pool
	}
	return db, open
}

func TestUp_AppliesAllOnceAndReportsStatus(t *testing.T) {
	_, open := emptySchema(t)
	pool := open()
	ctx := context.Background()

	before, err := migrations.Status(ctx, pool)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range before {
		if m.AppliedAt != nil {
			t.Fatalf("%s applied before Up", m.Name)
		}
	}
	applied, err := migrations.Up(ctx, pool)
	if err != nil {
		t.Fatal(err)
	}
	if len(applied) != len(migrations.All()) || len(applied) == 0 {
		t.Fatalf("applied %v, want all of %v", applied, migrations.All())
	}
	again, err := migrations.Up(ctx, pool)
	if err != nil || len(again) != 0 {
		t.Fatalf("second Up applied %v (err %v), want nothing", again, err)
	}
	after, _ := migrations.Status(ctx, pool)
	for _, m := range after {
		if m.AppliedAt == nil {
			t.Fatalf("%s pending after Up", m.Name)
		}
	}
	// The schema is really there.
	var n int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM users`).Scan(&n); err != nil {
		t.Fatalf("users table: %v", err)
	}
}

func TestUp_ConcurrentProcessesApplyEachOnce(t *testing.T) {
	_, open := emptySchema(t)
	ctx := context.Background()
	const n = 4
	var wg sync.WaitGroup
	results := make([][]string, n)
	errs := make([]error, n)
	for i := 0; i < n; i++ {
		pool := open() // separate pools stand for separate processes
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = migrations.Up(ctx, pool)
		}()
	}
	wg.Wait()
	total := 0
	for i := range results {
		if errs[i] != nil {
			t.Fatalf("runner %d: %v", i, errs[i])
		}
		total += len(results[i])
	}
	if total != len(migrations.All()) {
		t.Fatalf("migrations applied %d times in all, want %d", total, len(migrations.All()))
	}
}
