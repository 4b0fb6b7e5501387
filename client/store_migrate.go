package client

import (
	"context"
	"database/sql"
	"fmt"
)

// migrations are the store's schema versions, applied in order; the
// database's user_version is how many ran. Never edit one that shipped:
// add the next. A phone updated across several releases applies each in
// turn at its first open.
var migrations = []string{
	// 1: the first schema.
	`CREATE TABLE settings (
		key   TEXT PRIMARY KEY,
		value TEXT NOT NULL
	);
	-- One row per conversation the user is or was in. cursor is the
	-- highest seq held with nothing missing below it: sync sends it.
	-- read_seq is this user's read watermark as the UI set it; read_told
	-- and delivered_told are what the server has acknowledged, so what is
	-- left to tell survives a restart. last_message is the newest local
	-- message's id, for the list; known is 0 until the conversation's
	-- details (kind, name, members) were fetched.
	CREATE TABLE conversations (
		id             TEXT PRIMARY KEY,
		kind           TEXT NOT NULL DEFAULT '',
		name           TEXT NOT NULL DEFAULT '',
		last_seq       INTEGER NOT NULL DEFAULT 0,
		cursor         INTEGER NOT NULL DEFAULT 0,
		read_seq       INTEGER NOT NULL DEFAULT 0,
		read_told      INTEGER NOT NULL DEFAULT 0,
		delivered_told INTEGER NOT NULL DEFAULT 0,
		activity       INTEGER NOT NULL DEFAULT 0,
		created_at     INTEGER NOT NULL DEFAULT 0,
		last_message   INTEGER NOT NULL DEFAULT 0,
		known          INTEGER NOT NULL DEFAULT 0
	);
	CREATE INDEX conversations_activity ON conversations(activity DESC);
	CREATE TABLE members (
		conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
		user_id         TEXT NOT NULL,
		role            TEXT NOT NULL DEFAULT 'member',
		delivered_seq   INTEGER NOT NULL DEFAULT 0,
		read_seq        INTEGER NOT NULL DEFAULT 0,
		PRIMARY KEY (conversation_id, user_id)
	);
	-- Messages, own and others'. seq is NULL while an own message is
	-- pending; (conversation_id, seq) is the dedup key of everything the
	-- server sends, (sender_device_id, client_id) matches an own message
	-- with its copy from the server.
	CREATE TABLE messages (
		id               INTEGER PRIMARY KEY,
		conversation_id  TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
		seq              INTEGER,
		client_id        TEXT NOT NULL,
		sender_id        TEXT NOT NULL,
		sender_device_id TEXT NOT NULL,
		body             BLOB,
		attachments      TEXT NOT NULL DEFAULT '[]',
		ts               INTEGER NOT NULL DEFAULT 0,
		local_ts         INTEGER NOT NULL DEFAULT 0,
		state            TEXT NOT NULL,
		error            TEXT NOT NULL DEFAULT ''
	);
	CREATE UNIQUE INDEX messages_seq ON messages(conversation_id, seq);
	CREATE UNIQUE INDEX messages_client ON messages(sender_device_id, client_id);
	-- The outbox: own messages not yet acknowledged, in the order they were
	-- written. A row leaves when the server's sent arrives (or the app
	-- discards a failed message).
	CREATE TABLE outbox (
		position        INTEGER PRIMARY KEY AUTOINCREMENT,
		message_id      INTEGER NOT NULL UNIQUE REFERENCES messages(id) ON DELETE CASCADE,
		conversation_id TEXT NOT NULL,
		attempts        INTEGER NOT NULL DEFAULT 0
	);
	CREATE INDEX outbox_conversation ON outbox(conversation_id, position);
	-- Files attached to outbox messages, with their tus upload's state:
	-- the upload URL once created and the bytes the server holds, so an
	-- upload resumes after a kill. id is the upload's idempotency key.
	CREATE TABLE uploads (
		id           TEXT PRIMARY KEY,
		message_id   INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
		position     INTEGER NOT NULL,
		path         TEXT NOT NULL,
		filename     TEXT NOT NULL,
		content_type TEXT NOT NULL,
		mode         TEXT NOT NULL,
		size         INTEGER NOT NULL,
		location     TEXT NOT NULL DEFAULT '',
		blob_id      TEXT NOT NULL DEFAULT '',
		offset       INTEGER NOT NULL DEFAULT 0,
		done         INTEGER NOT NULL DEFAULT 0
	);
	CREATE INDEX uploads_message ON uploads(message_id, position);
	-- Blobs the client knows of (its uploads, others' attachments) with
	-- what media.ready told; media_cache holds downloaded variants.
	CREATE TABLE blobs (
		id     TEXT PRIMARY KEY,
		state  TEXT NOT NULL DEFAULT '',
		info   TEXT NOT NULL DEFAULT '{}'
	);
	CREATE TABLE media_cache (
		blob_id TEXT NOT NULL,
		variant TEXT NOT NULL,
		path    TEXT NOT NULL,
		size    INTEGER NOT NULL,
		used_at INTEGER NOT NULL,
		PRIMARY KEY (blob_id, variant)
	);`,
	// 2: end-to-end encryption (store_e2e.go).
	e2eSchema,
	// 3: encrypted thumbnails (store_e2e.go).
	e2eThumbnailSchema,
	// 4: contacts' identity keys, for safety-number warnings (e2e_contacts.go).
	e2eContactSchema,
	// 5: unread counts from the index alone. The list counts others'
	// messages after the read watermark; with only messages_seq each one
	// was a row lookup for its sender (265 ms for a first screen of 50
	// conversations with 250 unread each).
	`CREATE INDEX messages_unread ON messages(conversation_id, seq, sender_id);`,
}

// migrate applies the migrations the database has not seen, each in its
// own transaction with the version bump, so a kill mid-way leaves a
// consistent version to continue from.
func (s *Store) migrate(ctx context.Context) error {
	var version int
	if err := s.db.QueryRowContext(ctx, `PRAGMA user_version`).Scan(&version); err != nil {
		return err
	}
	if version > len(migrations) {
		return fmt.Errorf("store schema version %d is newer than this client (%d)", version, len(migrations))
	}
	for v := version; v < len(migrations); v++ {
		err := s.tx(ctx, func(tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, migrations[v]); err != nil {
				return fmt.Errorf("migration %d: %w", v+1, err)
			}
			_, err := tx.ExecContext(ctx, fmt.Sprintf(`PRAGMA user_version = %d`, v+1))
			return err
		})
		if err != nil {
			return err
		}
	}
	return nil
}
