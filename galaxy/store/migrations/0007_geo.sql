-- Geo signals (seeds: backend-README §11): per-user country counters.

CREATE TABLE user_country_counters (
    user_id      uuid NOT NULL REFERENCES accounts (user_id),
    country      text NOT NULL CHECK (country ~ '^[A-Z]{2}$'),
    count        bigint NOT NULL DEFAULT 0,
    last_seen_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, country)
);
