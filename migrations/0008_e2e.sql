-- End-to-end encryption (docs/e2e.md): the key directory, device mailboxes
-- and encrypted conversations. The server holds only public keys,
-- signatures and ciphertext; it checks every signature at upload so a
-- client can trust nothing it fetched less than the identity.

-- A device's identity key (Ed25519) is set once for the device's life: a
-- new identity is a new device. A device is a recipient of encrypted
-- messages from the moment it has a row here until it is revoked.
CREATE TABLE device_identity_keys (
    device_id    text PRIMARY KEY REFERENCES devices (id) ON DELETE CASCADE,
    user_id      text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    identity_key bytea NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX device_identity_keys_user ON device_identity_keys (user_id);

-- Prekeys: kem is the HPKE KEM ID (32 X25519, 25722 X-Wing), kind 1
-- one-time, 2 signed, 3 last resort. One-time rows are deleted as they are
-- handed out (DELETE … RETURNING on a row locked with SKIP LOCKED, so two
-- claimers never get the same key); a device has at most one signed and
-- one last-resort key per KEM, replaced on upload.
CREATE TABLE prekeys (
    device_id  text NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    kem        integer NOT NULL,
    kind       smallint NOT NULL CHECK (kind IN (1, 2, 3)),
    key_id     bigint NOT NULL,
    public_key bytea NOT NULL,
    signature  bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (device_id, kem, key_id)
);

CREATE UNIQUE INDEX prekeys_current ON prekeys (device_id, kem, kind) WHERE kind IN (2, 3);
CREATE INDEX prekeys_stock ON prekeys (device_id, kem, key_id) WHERE kind = 1;

-- Device mailboxes: opaque payloads (sealed sender keys, session setup,
-- device linking) addressed to one device, kept until it acknowledges them
-- or they expire.
CREATE TABLE mailbox (
    id               bigserial PRIMARY KEY,
    device_id        text NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    sender_id        text NOT NULL,
    sender_device_id text NOT NULL,
    payload          bytea NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    expires_at       timestamptz NOT NULL
);

CREATE INDEX mailbox_device ON mailbox (device_id, id);
CREATE INDEX mailbox_expiry ON mailbox (expires_at);
