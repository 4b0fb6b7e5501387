package client

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"

	"time"

	"modernc.org/sqlite" // pure Go SQLite (no cgo): see docs/client.md for the choice
	sqlite3 "modernc.org/sqlite/lib"
)

// Store is the client's local database: conversations, members and their
// watermarks, messages with their local state, sync cursors, the outbox,
// uploads and the media cache. It is the source the UI reads; the network
// only ever updates it.
type Store struct {
	db *sql.DB // readers: WAL lets them run beside the writer
	w  *sql.DB // the one writer connection: every write goes through it
}

// OpenStore opens (or creates) the store at path and brings its schema up
// to date. The journal is a write-ahead log with synchronous=NORMAL: a
// committed transaction survives the process being killed at any point
// (kill -9, an iOS jetsam), and readers never wait for the writer.
func OpenStore(path string) (*Store, error) {
	q := url.Values{}
	for _, p := range []string{"journal_mode(WAL)", "synchronous(NORMAL)", "busy_timeout(10000)", "foreign_keys(ON)"} {
		q.Add("_pragma", p)
	}
	// Write transactions take the write lock when they begin, so two
	// writers never deadlock upgrading from a read lock.
	q.Set("_txlock", "immediate")
	dsn := "file:" + path + "?" + q.Encode()
	w, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("client: open store %s: %w", path, err)
	}
	// One writer connection: writers of this process queue in Go for it
	// instead of in SQLite's busy handler, which polls with sleeps (up to
	// 100 ms each), and a burst of writes runs back to back.
	w.SetMaxOpenConns(1)
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("client: open store %s: %w", path, err)
	}
	db.SetMaxOpenConns(4)
	s := &Store{db: db, w: w}
	if err := s.migrate(context.Background()); err != nil {
		s.Close()
		return nil, fmt.Errorf("client: migrate store %s: %w", path, err)
	}
	return s, nil
}

// Close closes the database.
func (s *Store) Close() error { return errors.Join(s.db.Close(), s.w.Close()) }

// busyRetries is how often a write is tried again after SQLITE_BUSY
// outlasted busy_timeout: another process (a share extension, a
// second copy of the app) held the write lock that long.
const busyRetries = 3

// tx runs fn in a write transaction on the writer connection, again
// from the start when the database stayed busy. fn must not call exec
// (the writer is busy with fn's transaction) and must not keep state
// across attempts.
func (s *Store) tx(ctx context.Context, fn func(*sql.Tx) error) error {
	return retryBusy(ctx, func() error {
		tx, err := s.w.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		if err := fn(tx); err != nil {
			tx.Rollback()
			return err
		}
		return tx.Commit()
	})
}

// exec runs one write statement on the writer connection.
func (s *Store) exec(ctx context.Context, q string, args ...any) (res sql.Result, err error) {
	err = retryBusy(ctx, func() error {
		res, err = s.w.ExecContext(ctx, q, args...)
		return err
	})
	return res, err
}

// retryBusy runs fn, and again (up to busyRetries times, after a short
// wait) while it fails with SQLITE_BUSY.
func retryBusy(ctx context.Context, fn func() error) error {
	for attempt := 0; ; attempt++ {
		err := fn()
		var se *sqlite.Error
		if attempt == busyRetries || !errors.As(err, &se) || se.Code()&0xff != sqlite3.SQLITE_BUSY {
			return err
		}
		select {
		case <-time.After(time.Duration(attempt+1) * 50 * time.Millisecond):
		case <-ctx.Done():
			return err
		}
	}
}

// Account is who this store belongs to: the server, the user, this device
// and its bearer token.
type Account struct {
	URL      string `json:"url"`
	UserID   string `json:"user_id"`
	DeviceID string `json:"device_id"`
	Token    string `json:"token"`
}

// SaveAccount records the account the store belongs to.
func (s *Store) SaveAccount(ctx context.Context, a Account) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		for k, v := range map[string]string{"url": a.URL, "user_id": a.UserID, "device_id": a.DeviceID, "token": a.Token} {
			if _, err := tx.ExecContext(ctx, `INSERT INTO settings(key, value) VALUES(?, ?)
				ON CONFLICT(key) DO UPDATE SET value = excluded.value`, k, v); err != nil {
				return err
			}
		}
		return nil
	})
}

// ErrNoAccount is returned by Account for a store no account was saved in.
var ErrNoAccount = errors.New("client: the store holds no account")

// Account returns the saved account, or ErrNoAccount.
func (s *Store) Account(ctx context.Context) (Account, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT key, value FROM settings WHERE key IN ('url','user_id','device_id','token')`)
	if err != nil {
		return Account{}, err
	}
	defer rows.Close()
	var a Account
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return Account{}, err
		}
		switch k {
		case "url":
			a.URL = v
		case "user_id":
			a.UserID = v
		case "device_id":
			a.DeviceID = v
		case "token":
			a.Token = v
		}
	}
	if err := rows.Err(); err != nil {
		return Account{}, err
	}
	if a.Token == "" {
		return Account{}, ErrNoAccount
	}
	return a, nil
}

// sqlTx is the transaction type the store's helpers take.
type sqlTx = sql.Tx

// SetSetting stores an app setting (a contact's name, a draft) beside the
// account.
func (s *Store) SetSetting(ctx context.Context, key, value string) error {
	_, err := s.exec(ctx, `INSERT INTO settings(key, value) VALUES(?, ?)
		ON CONFLICT(key) DO UPDATE SET value = excluded.value`, key, value)
	return err
}

// Setting returns an app setting, "" when unset.
func (s *Store) Setting(ctx context.Context, key string) (string, error) {
	var v string
	err := s.db.QueryRowContext(ctx, `SELECT value FROM settings WHERE key = ?`, key).Scan(&v)
	if err == sql.ErrNoRows {
		return "", nil
	}
	return v, err
}
