package client

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
)

// Writers of one process queue for the one writer connection instead of
// polling SQLite's lock: under a reconnect storm's load (conformance,
// HundredClientsReconnectAtOnce) the polling lost to the other writers
// for busy_timeout's 10 s, and a `sent` or a live message failed with
// SQLITE_BUSY. Here many goroutines write at once, each transaction also
// reading through the reader pool (which a writer waiting in SQLite's
// busy handler used to hold): every write lands.
func TestStore_ConcurrentWritersNeverBusy(t *testing.T) {
	s, err := OpenStore(filepath.Join(t.TempDir(), "store.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	const writers, each = 16, 40
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				errs <- s.tx(ctx, func(tx *sqlTx) error {
					var n int
					if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM settings`).Scan(&n); err != nil {
						return err
					}
					_, err := tx.ExecContext(ctx, `INSERT INTO settings(key, value) VALUES(?, ?)`, fmt.Sprint(w, "/", i), fmt.Sprint(n))
					return err
				})
				if _, err := s.exec(ctx, `UPDATE settings SET value = value WHERE key = ?`, fmt.Sprint(w, "/", i)); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM settings WHERE key LIKE '%/%'`).Scan(&n); err != nil || n != writers*each {
		t.Fatalf("%d writes landed (%v), want %d", n, err, writers*each)
	}
}
