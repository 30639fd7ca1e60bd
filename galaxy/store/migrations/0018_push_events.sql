-- Push events as every instance sees them (services/push_relay.py). Each
-- instance appends what it publishes and tails the table, so a gateway on any
-- instance receives the events of all of them, in one order, and the cursor of
-- an event is the same everywhere: a gateway resumes on another instance.
--
-- Appends are serialised by a transaction-scoped advisory lock (push_append),
-- so cursors become visible in increasing order and a tail that reads past a
-- cursor never finds a smaller one committed later. Rows older than the
-- freshness window are pruned by any instance.

-- Seeded with the wall clock in microseconds, as the in-process counter was:
-- cursors keep increasing across the upgrade.
CREATE SEQUENCE push_cursors;
SELECT setval('push_cursors', (extract(epoch FROM clock_timestamp()) * 1000000)::bigint);

CREATE TABLE push_events (
    cursor bigint PRIMARY KEY,
    published_at timestamptz NOT NULL DEFAULT now(),
    origin text NOT NULL,
    event bytea NOT NULL
);
CREATE INDEX push_events_published_at ON push_events (published_at);

-- One append, one statement (one round trip): the lock, the cursors drawn in the
-- order the events were published, and the notification, delivered on commit.
-- The commit does not wait for its WAL flush: an event is worth less than that
-- wait, and a crash of PostgreSQL itself may lose the last few, never reorder them.
CREATE FUNCTION push_append(p_origin text, p_events bytea[]) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM set_config('synchronous_commit', 'off', true);
    PERFORM pg_advisory_xact_lock(1886745448);  -- "push" in ASCII: no other lock uses it
    -- The subquery's ORDER BY keeps it from being flattened into the INSERT.
    INSERT INTO push_events (cursor, origin, event)
    SELECT nextval('push_cursors'), p_origin, published.event
    FROM (SELECT t.event FROM unnest(p_events) WITH ORDINALITY AS t(event, n) ORDER BY t.n)
         AS published;
    PERFORM pg_notify('galaxy_push', p_origin);
END
$$;
