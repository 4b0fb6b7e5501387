-- A blob is one finished upload. Its ID is the upload's ID.
CREATE TABLE blobs (
    id           text PRIMARY KEY,
    owner_id     text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    mode         text NOT NULL CHECK (mode IN ('plain', 'e2e')),
    state        text NOT NULL CHECK (state IN ('processing', 'ready', 'failed')),
    size         bigint NOT NULL,
    content_type text NOT NULL DEFAULT '',
    filename     text NOT NULL DEFAULT '',
    sha256       text NOT NULL DEFAULT '',
    storage_key  text NOT NULL,
    width        integer NOT NULL DEFAULT 0,
    height       integer NOT NULL DEFAULT 0,
    duration_ms  bigint NOT NULL DEFAULT 0,
    blurhash     text NOT NULL DEFAULT '',
    variants     jsonb NOT NULL DEFAULT '[]',
    fail_reason  text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX blobs_owner_id ON blobs (owner_id);

-- Uploads in progress, for per-user limits, idempotent creation and expiry.
CREATE TABLE uploads (
    id              text PRIMARY KEY,
    owner_id        text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    idempotency_key text,
    mode            text NOT NULL,
    size            bigint NOT NULL,
    state           text NOT NULL DEFAULT 'active'
                    CHECK (state IN ('active', 'finished', 'expired', 'terminated')),
    created_at      timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz NOT NULL
);

CREATE UNIQUE INDEX uploads_idempotency ON uploads (owner_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE INDEX uploads_active_owner ON uploads (owner_id) WHERE state = 'active';
CREATE INDEX uploads_active_expiry ON uploads (expires_at) WHERE state = 'active';
