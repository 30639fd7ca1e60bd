-- The foundation: platform administrators (HTTP Basic on the admin surface).
-- Every later area adds its tables in a migration of its own.

CREATE TABLE admin_accounts (
    username      text PRIMARY KEY CHECK (username ~ '^[A-Za-z0-9_.@-]{1,64}$'),
    password_hash bytea NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    last_used_at  timestamptz,
    disabled_at   timestamptz
);
