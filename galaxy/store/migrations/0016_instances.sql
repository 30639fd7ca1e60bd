-- The galaxy run instances sharing this database, each registered while it runs.
-- A row is this process run's (run_id) for as long as it keeps expires_at in the
-- future with its heartbeats; a crashed instance's row lapses on its own, and a
-- graceful stop deletes it. The snapshot is the instance's actor tree and the
-- games it runs, as of its last heartbeat, for the operators' cluster view.

CREATE TABLE instances (
    instance_id text PRIMARY KEY,
    run_id text NOT NULL,
    address text NOT NULL DEFAULT '',
    version text NOT NULL,
    started_at timestamptz NOT NULL DEFAULT now(),
    heartbeat_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    snapshot jsonb NOT NULL DEFAULT '{}'
);
