package client

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"

	_ "modernc.org/sqlite" // pure Go SQLite (no cgo): see docs/client.md for the choice
)

// Store is the client's local database: conversations, members and their
// watermarks, messages with their local state, sync cursors, the outbox,
// uploads and the media cache. It is the source the UI reads; the network
// only ever updates it.
type Store struct {
	db *sql.DB
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
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("client: open store %s: %w", path, err)
	}
	// A few connections: WAL lets reads run beside the one writer.
	db.SetMaxOpenConns(4)
	s := &Store{db: db}
	if err := s.migrate(context.Background()); err != nil {
		db.Close()
		return nil, fmt.Errorf("client: migrate store %s: %w", path, err)
	}
	return s, nil
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// tx runs fn in a write transaction.
func (s *Store) tx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
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
	_, err := s.db.ExecContext(ctx, `INSERT INTO settings(key, value) VALUES(?, ?)
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
