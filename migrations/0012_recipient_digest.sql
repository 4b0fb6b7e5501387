-- The recipient set of an encrypted conversation, kept as a digest so a
-- send checks the devices it names with one comparison under the
-- conversation's lock instead of a join over every member's devices
-- (docs/e2e.md, "Sending"). recipient_digest is SHA-256 over the sorted
-- IDs of every live device with an identity key of every current member,
-- each followed by a newline; NULL when unknown. A send that finds it NULL
-- computes it under the lock and stores it with the message; everything
-- that changes the set sets it back to NULL in its own transaction, through
-- the triggers below, so no code path can forget to.
--
-- Why a stored digest is never stale: a send reads it after taking the
-- conversation's row lock, and every change takes that same lock to clear
-- it, so a change either commits before the send looks (the send sees
-- NULL) or waits for the send to commit and clears what it stored. A
-- device change finds the conversations to clear through its user's
-- memberships; a join commits under the joining user's row lock
-- (FOR NO KEY UPDATE, taken by every create and add before the member
-- row), which the device change takes first, so a join is never missed.
ALTER TABLE conversations ADD COLUMN recipient_digest bytea;

-- Members joined (a new group, a direct conversation, an added member):
-- the conversations' sets changed. Statement-level, so creating a group of
-- 1024 clears its row once, not once per member.
CREATE FUNCTION forget_recipients_of_joined() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    UPDATE conversations SET recipient_digest = NULL
        WHERE encrypted AND id IN (SELECT DISTINCT conversation_id FROM joined);
    RETURN NULL;
END $$;

CREATE TRIGGER conversation_members_joined AFTER INSERT ON conversation_members
    REFERENCING NEW TABLE AS joined FOR EACH STATEMENT
    EXECUTE FUNCTION forget_recipients_of_joined();

-- A member removed, or a former one back (an upsert's update): per row,
-- with a WHEN that keeps the watermark updates every send and receipt
-- makes free of any call.
CREATE FUNCTION forget_recipients_of_member() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    UPDATE conversations SET recipient_digest = NULL WHERE id = NEW.conversation_id AND encrypted;
    RETURN NULL;
END $$;

CREATE TRIGGER conversation_members_left AFTER UPDATE ON conversation_members
    FOR EACH ROW WHEN (OLD.removed_seq IS DISTINCT FROM NEW.removed_seq)
    EXECUTE FUNCTION forget_recipients_of_member();

-- A device got its identity key or was revoked: every encrypted
-- conversation of its user changed. The user's row lock comes first (it
-- orders this against joins, see above), then the conversations' locks in
-- ID order, as sends take them, so two device changes never deadlock.
CREATE FUNCTION forget_recipients_of_user() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
    convs text[];
BEGIN
    PERFORM 1 FROM users WHERE id = NEW.user_id FOR NO KEY UPDATE;
    SELECT array_agg(id) INTO convs FROM (
        SELECT c.id FROM conversations c
        JOIN conversation_members m ON m.conversation_id = c.id
            AND m.user_id = NEW.user_id AND m.removed_seq IS NULL
        WHERE c.encrypted ORDER BY c.id FOR NO KEY UPDATE OF c) locked;
    UPDATE conversations SET recipient_digest = NULL WHERE id = ANY(convs);
    RETURN NULL;
END $$;

CREATE TRIGGER device_identity_keys_added AFTER INSERT ON device_identity_keys
    FOR EACH ROW EXECUTE FUNCTION forget_recipients_of_user();

CREATE TRIGGER devices_revoked AFTER UPDATE ON devices
    FOR EACH ROW WHEN (OLD.revoked_at IS DISTINCT FROM NEW.revoked_at)
    EXECUTE FUNCTION forget_recipients_of_user();
