-- Every unique key on a conversation's tables includes conversation_id, so
-- the tables can be distributed by conversation (docs/scaling.md): a
-- distributed database enforces a unique key only when it contains the
-- distribution column.

-- A client ID is unique per (conversation, sender device); a device
-- reusing one in another conversation sends a new message there. The
-- resend lookup filters by conversation first.
ALTER TABLE messages DROP CONSTRAINT messages_sender_device_id_client_id_key;
ALTER TABLE messages ADD CONSTRAINT messages_client_id_key
    UNIQUE (conversation_id, sender_device_id, client_id);

-- "One direct conversation per pair" moves to a table keyed by the pair:
-- creating a direct conversation (rare, off the hot path) writes both rows.
-- The foreign key is checked at commit so the pair's row, which settles a
-- race between two creations, can be inserted first.
CREATE TABLE direct_conversations (
    direct_key      text PRIMARY KEY,
    conversation_id text NOT NULL REFERENCES conversations (id) ON DELETE CASCADE
        DEFERRABLE INITIALLY DEFERRED
);
INSERT INTO direct_conversations (direct_key, conversation_id)
    SELECT direct_key, id FROM conversations WHERE direct_key IS NOT NULL;
ALTER TABLE conversations DROP CONSTRAINT conversations_direct_key_key;
