-- Identity: accounts, login challenges, device sessions, entitlements,
-- sanctions and limits (seeds: backend-PLAN stages 5.1 and 5.2).

CREATE TABLE accounts (
    user_id            uuid PRIMARY KEY,
    email              text NOT NULL,          -- normalised (lower case)
    user_name          text NOT NULL UNIQUE,
    display_name       text NOT NULL,
    preferred_language text NOT NULL,
    time_zone          text NOT NULL,
    declared_country   text,
    permanent_block    boolean NOT NULL DEFAULT false,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    deleted_at         timestamptz
);
-- A soft-deleted account keeps its row for audit; its address may sign up anew.
CREATE UNIQUE INDEX accounts_live_email ON accounts (email) WHERE deleted_at IS NULL;
CREATE INDEX accounts_email ON accounts (email);
CREATE INDEX accounts_created ON accounts (created_at DESC, user_id);

CREATE TABLE blocked_emails (
    email      text PRIMARY KEY,
    user_id    uuid REFERENCES accounts (user_id),
    reason     text NOT NULL,
    blocked_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE auth_challenges (
    challenge_id uuid PRIMARY KEY,
    email        text NOT NULL,
    code_hash    bytea NOT NULL,
    locale       text,
    attempts     integer NOT NULL DEFAULT 0,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    consumed_at  timestamptz
);
CREATE INDEX auth_challenges_email ON auth_challenges (email, created_at DESC);

CREATE TABLE device_sessions (
    device_session_id uuid PRIMARY KEY,
    user_id           uuid NOT NULL REFERENCES accounts (user_id),
    client_public_key bytea NOT NULL CHECK (length(client_public_key) = 32),
    status            text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'revoked')),
    revoke_reason     text,
    created_at        timestamptz NOT NULL DEFAULT now(),
    revoked_at        timestamptz,
    last_seen_at      timestamptz
);
CREATE INDEX device_sessions_user ON device_sessions (user_id);
CREATE INDEX device_sessions_active ON device_sessions (status) WHERE status = 'active';

CREATE TABLE entitlement_records (
    record_id  uuid PRIMARY KEY,
    user_id    uuid NOT NULL REFERENCES accounts (user_id),
    tier       text NOT NULL,
    source     text NOT NULL,
    actor      text NOT NULL,
    reason     text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX entitlement_records_user ON entitlement_records (user_id, created_at DESC);

CREATE TABLE entitlement_snapshots (
    user_id                   uuid PRIMARY KEY REFERENCES accounts (user_id),
    tier                      text NOT NULL,
    max_registered_race_names integer NOT NULL CHECK (max_registered_race_names >= 0),
    taken_at                  timestamptz NOT NULL DEFAULT clock_timestamp()
);

-- Sanctions and limits: an append-only record of every decision, and the
-- active rollup (one row per user and kind) that readers consult.
CREATE TABLE sanction_records (
    record_id  uuid PRIMARY KEY,
    user_id    uuid NOT NULL REFERENCES accounts (user_id),
    kind       text NOT NULL,
    action     text NOT NULL CHECK (action IN ('apply', 'lift')),
    reason     text NOT NULL,
    actor      text NOT NULL,
    expires_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sanction_records_user ON sanction_records (user_id, created_at DESC);

CREATE TABLE sanction_active (
    user_id    uuid NOT NULL REFERENCES accounts (user_id),
    kind       text NOT NULL,
    record_id  uuid NOT NULL REFERENCES sanction_records (record_id),
    reason     text NOT NULL,
    applied_at timestamptz NOT NULL,
    expires_at timestamptz,
    PRIMARY KEY (user_id, kind)
);

CREATE TABLE limit_records (
    record_id  uuid PRIMARY KEY,
    user_id    uuid NOT NULL REFERENCES accounts (user_id),
    kind       text NOT NULL,
    value      integer CHECK (value >= 0),   -- NULL clears the override
    reason     text NOT NULL,
    actor      text NOT NULL,
    expires_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX limit_records_user ON limit_records (user_id, created_at DESC);

CREATE TABLE limit_active (
    user_id    uuid NOT NULL REFERENCES accounts (user_id),
    kind       text NOT NULL,
    value      integer NOT NULL CHECK (value >= 0),
    record_id  uuid NOT NULL REFERENCES limit_records (record_id),
    applied_at timestamptz NOT NULL,
    expires_at timestamptz,
    PRIMARY KEY (user_id, kind)
);
