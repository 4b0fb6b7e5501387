-- Conversations, their members with receipt watermarks, and messages.
--
-- A message's seq comes from conversations.last_seq, bumped in the same
-- transaction that inserts the message: the row lock serialises senders of
-- one conversation, and a rolled-back transaction rolls the bump back too,
-- so seqs are 1, 2, 3 … with no gaps.
CREATE TABLE conversations (
    id               text PRIMARY KEY,
    kind             text NOT NULL CHECK (kind IN ('direct', 'group')),
    name             text NOT NULL DEFAULT '',
    -- direct_key is "smaller user ID:larger user ID" for direct chats, so
    -- the unique index makes "one direct conversation per pair" race-safe.
    direct_key       text UNIQUE,
    created_by       text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at       timestamptz NOT NULL DEFAULT now(),
    last_seq         bigint NOT NULL DEFAULT 0,
    -- Metadata of the newest message, kept here so listing conversations
    -- reads no message rows.
    last_sender_id   text,
    last_message_at  timestamptz,
    last_attachments integer NOT NULL DEFAULT 0,
    CHECK ((kind = 'direct') = (direct_key IS NOT NULL))
);

-- A member sees the messages with from_seq < seq, and after removal only
-- those with seq <= removed_seq. Rows of former members are kept so their
-- history stays readable up to the removal.
CREATE TABLE conversation_members (
    conversation_id text NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    user_id         text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role            text NOT NULL CHECK (role IN ('admin', 'member')),
    from_seq        bigint NOT NULL DEFAULT 0,
    removed_seq     bigint,
    delivered_seq   bigint NOT NULL DEFAULT 0,
    read_seq        bigint NOT NULL DEFAULT 0,
    joined_at       timestamptz NOT NULL DEFAULT now(),
    removed_at      timestamptz,
    PRIMARY KEY (conversation_id, user_id),
    CHECK (read_seq <= delivered_seq)
);

CREATE INDEX conversation_members_user ON conversation_members (user_id, conversation_id);

-- Sender columns carry no foreign keys: devices are revoked, never deleted,
-- and skipping the checks keeps the send path to one index lookup less.
CREATE TABLE messages (
    conversation_id  text NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    seq              bigint NOT NULL,
    sender_id        text NOT NULL,
    sender_device_id text NOT NULL,
    client_id        text NOT NULL,
    body             bytea NOT NULL,
    attachments      text[] NOT NULL DEFAULT '{}',
    created_at       timestamptz NOT NULL,
    PRIMARY KEY (conversation_id, seq),
    -- A resend with the same (device, client ID) finds the original.
    UNIQUE (sender_device_id, client_id)
);

-- One row per attachment, for the download rule: who may read a blob is
-- found from the blob's ID.
CREATE TABLE message_attachments (
    blob_id         text NOT NULL,
    conversation_id text NOT NULL,
    seq             bigint NOT NULL,
    PRIMARY KEY (blob_id, conversation_id, seq),
    FOREIGN KEY (conversation_id, seq) REFERENCES messages (conversation_id, seq) ON DELETE CASCADE
);
