-- Replies, reactions, edits and deletes for everyone (docs/protocol.md).
-- A change to a message is an entry of the log with its own seq, naming
-- its target; applying it to the target happens in the same statement
-- that inserts it (postgres/message_batch.go), under the conversation's
-- lock, so the log and the stored state never disagree.
ALTER TABLE messages
    ADD COLUMN kind        text NOT NULL DEFAULT ''
        CHECK (kind IN ('', 'reaction', 'edit', 'delete')),
    ADD COLUMN target_seq  bigint,
    ADD COLUMN reply_to    bigint,
    -- The latest edit (the body is the edited one) and the delete (the
    -- body and attachments are gone).
    ADD COLUMN edited_seq  bigint,
    ADD COLUMN deleted_seq bigint,
    ADD CONSTRAINT messages_target CHECK ((kind = '') = (target_seq IS NULL));

-- A delete finds the edits of its target, to wipe their text too.
CREATE INDEX messages_changes ON messages (conversation_id, target_seq) WHERE target_seq IS NOT NULL;

-- The current reaction of each member to each message of a plain
-- conversation (encrypted ones keep theirs in the ciphertext), so a client
-- paging history gets summaries without replaying every reaction.
CREATE TABLE message_reactions (
    conversation_id text NOT NULL,
    seq             bigint NOT NULL,
    user_id         text NOT NULL,
    emoji           text NOT NULL,
    reacted_seq     bigint NOT NULL,
    PRIMARY KEY (conversation_id, seq, user_id),
    FOREIGN KEY (conversation_id, seq) REFERENCES messages (conversation_id, seq) ON DELETE CASCADE
);
