-- Per-user conversation state, blocks and forward counts (docs/protocol.md,
-- "Conversation state, blocking and forwarding").

-- A member's own settings, beside muted_until (0009_push.sql): the same on
-- all their devices. pinned_at orders pins, oldest first.
ALTER TABLE conversation_members
    ADD COLUMN archived      boolean NOT NULL DEFAULT false,
    ADD COLUMN pinned_at     timestamptz,
    ADD COLUMN marked_unread boolean NOT NULL DEFAULT false;

-- Keyed by the blocker, as the rest of a user's data: the send path asks
-- about the two users of a direct conversation by this key.
CREATE TABLE blocks (
    blocker_id text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    blocked_id text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (blocker_id, blocked_id),
    CHECK (blocker_id <> blocked_id)
);

-- A direct conversation whose two users have a block between them, either
-- way: kept by the block's writer, so a send checks a column of the row it
-- updates anyway and plain sends pay nothing for blocking.
ALTER TABLE conversations ADD COLUMN blocked boolean NOT NULL DEFAULT false;

-- How many times a blob went out in a forwarded message, and the count a
-- forwarded message carries (0: not forwarded).
ALTER TABLE blobs ADD COLUMN forward_count integer NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN forward_count integer NOT NULL DEFAULT 0;
