-- The durable mail outbox (seeds: backend-README §9).

CREATE TABLE mail_payloads (
    payload_id   uuid PRIMARY KEY,
    -- The template's inputs as JSON; rendered by the worker at send time, so a
    -- rendering error fails one delivery and never the producer's transaction.
    content_type text NOT NULL,
    body         bytea NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE mail_deliveries (
    delivery_id     uuid PRIMARY KEY,
    template_id     text NOT NULL,
    idempotency_key text NOT NULL,
    status          text NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'retrying', 'sent', 'dead_lettered')),
    attempts        integer NOT NULL DEFAULT 0,   -- every attempt ever: attempt_no of the last
    cycle_attempts  integer NOT NULL DEFAULT 0,   -- attempts since the last (re)send
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    payload_id      uuid NOT NULL REFERENCES mail_payloads (payload_id),
    message_id      text NOT NULL,                -- stable across retries and resends
    locked_by       text,                         -- the process run holding the lease
    lease_until     timestamptz,
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    sent_at         timestamptz,
    CONSTRAINT mail_deliveries_idempotency UNIQUE (template_id, idempotency_key)
);

CREATE INDEX mail_deliveries_due ON mail_deliveries (next_attempt_at)
    WHERE status IN ('pending', 'retrying');
CREATE INDEX mail_deliveries_created ON mail_deliveries (created_at DESC, delivery_id);

CREATE TABLE mail_recipients (
    recipient_id uuid PRIMARY KEY,
    delivery_id  uuid NOT NULL REFERENCES mail_deliveries (delivery_id),
    address      text NOT NULL,
    kind         text NOT NULL DEFAULT 'to' CHECK (kind IN ('to', 'cc', 'bcc'))
);
CREATE INDEX mail_recipients_delivery ON mail_recipients (delivery_id);

CREATE TABLE mail_attempts (
    attempt_id  uuid PRIMARY KEY,
    delivery_id uuid NOT NULL REFERENCES mail_deliveries (delivery_id),
    attempt_no  integer NOT NULL,
    started_at  timestamptz NOT NULL,
    finished_at timestamptz NOT NULL,
    outcome     text NOT NULL CHECK (outcome IN ('sent', 'failed', 'render_failed')),
    error       text,
    CONSTRAINT mail_attempts_monotonic UNIQUE (delivery_id, attempt_no)
);

CREATE TABLE mail_dead_letters (
    dead_letter_id uuid PRIMARY KEY,
    delivery_id    uuid NOT NULL UNIQUE REFERENCES mail_deliveries (delivery_id),
    payload_id     uuid NOT NULL REFERENCES mail_payloads (payload_id),
    archived_at    timestamptz NOT NULL DEFAULT now(),
    reason         text NOT NULL
);
