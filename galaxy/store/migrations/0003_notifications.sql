-- The notification pipeline (seeds: backend-README §10, runbook "Notification pipeline").

CREATE TABLE notifications (
    notification_id uuid PRIMARY KEY,
    kind            text NOT NULL,
    idempotency_key text NOT NULL,
    payload         jsonb NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT notifications_idempotency UNIQUE (kind, idempotency_key)
);
CREATE INDEX notifications_created ON notifications (created_at DESC, notification_id);

CREATE TABLE notification_routes (
    route_id        uuid PRIMARY KEY,
    notification_id uuid NOT NULL REFERENCES notifications (notification_id),
    channel         text NOT NULL CHECK (channel IN ('push', 'email', 'admin_email')),
    user_id         uuid,          -- the recipient (admin_email routes have none)
    address         text,          -- email and admin_email routes
    status          text NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'retrying', 'delivered', 'skipped', 'dead_lettered')),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    locked_by       text,
    lease_until     timestamptz,
    last_error      text,
    skip_reason     text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    delivered_at    timestamptz
);
CREATE INDEX notification_routes_due ON notification_routes (next_attempt_at)
    WHERE status IN ('pending', 'retrying');
CREATE INDEX notification_routes_notification ON notification_routes (notification_id);
CREATE INDEX notification_routes_user ON notification_routes (user_id)
    WHERE status IN ('pending', 'retrying');

CREATE TABLE notification_dead_letters (
    dead_letter_id  uuid PRIMARY KEY,
    notification_id uuid NOT NULL REFERENCES notifications (notification_id),
    route_id        uuid NOT NULL UNIQUE REFERENCES notification_routes (route_id),
    archived_at     timestamptz NOT NULL DEFAULT now(),
    reason          text NOT NULL
);

CREATE TABLE notification_malformed_intents (
    id          uuid PRIMARY KEY,
    received_at timestamptz NOT NULL DEFAULT now(),
    payload     jsonb NOT NULL,
    reason      text NOT NULL
);
