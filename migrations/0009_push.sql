-- Push registrations: per device, where its pushes go (APNs or FCM token)
-- and the HPKE public key its previews are sealed to. A token belongs to
-- one device at a time: the unique index makes a re-registration on
-- another account take it over rather than leave two devices woken by one
-- phone.
CREATE TABLE push_registrations (
    device_id   text PRIMARY KEY REFERENCES devices (id) ON DELETE CASCADE,
    user_id     text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    service     text NOT NULL CHECK (service IN ('apns', 'fcm')),
    token       text NOT NULL UNIQUE,
    topic       text NOT NULL DEFAULT '',
    environment text NOT NULL DEFAULT '',
    kem         text NOT NULL DEFAULT '',
    public_key  bytea,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Devices are revoked, never deleted: the registration goes at revocation,
-- whichever code path revokes, so a revoked phone is never woken again.
CREATE FUNCTION push_forget_revoked_device() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM push_registrations WHERE device_id = NEW.id;
    RETURN NEW;
END $$;

CREATE TRIGGER devices_revoked_forget_push
    AFTER UPDATE OF revoked_at ON devices
    FOR EACH ROW WHEN (OLD.revoked_at IS NULL AND NEW.revoked_at IS NOT NULL)
    EXECUTE FUNCTION push_forget_revoked_device();

-- A muted conversation still gets silent pushes (the app updates), never
-- an alert, until muted_until ('infinity' for good).
ALTER TABLE conversation_members ADD COLUMN muted_until timestamptz;
