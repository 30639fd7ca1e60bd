-- The game runtime: engine versions, one record per game's engine, the
-- players' mapping to engine races, an operation log and health snapshots
-- (seeds: backend-PLAN stage 5.5, runbook "Runtime control plane").

CREATE TABLE engine_versions (
    version    text PRIMARY KEY CHECK (version ~ '^\d+\.\d+\.\d+$'),
    image_ref  text NOT NULL,
    enabled    boolean NOT NULL DEFAULT true,
    notes      text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE runtime_records (
    game_id          uuid PRIMARY KEY REFERENCES games (game_id),
    driver           text NOT NULL,
    status           text NOT NULL CHECK (status IN ('starting', 'running', 'stopped', 'failed',
                                                     'removed')),
    engine_version   text NOT NULL,
    image_ref        text NOT NULL,
    container_id     text,
    endpoint         text,
    turn             integer NOT NULL DEFAULT 0,
    next_turn_at     timestamptz,
    skip_next_turn   boolean NOT NULL DEFAULT false,
    probe_failures   integer NOT NULL DEFAULT 0,
    last_error       text,
    started_at       timestamptz,
    stopped_at       timestamptz,
    last_observed_at timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE player_mappings (
    game_id            uuid NOT NULL REFERENCES games (game_id),
    user_id            uuid NOT NULL REFERENCES accounts (user_id),
    race_name          text NOT NULL,
    engine_player_uuid uuid NOT NULL,
    PRIMARY KEY (game_id, user_id)
);

CREATE TABLE runtime_operation_log (
    operation_id uuid PRIMARY KEY,
    game_id      uuid NOT NULL,
    op           text NOT NULL,
    status       text NOT NULL CHECK (status IN ('running', 'succeeded', 'failed')),
    detail       text NOT NULL DEFAULT '',
    error        text,
    started_at   timestamptz NOT NULL DEFAULT now(),
    finished_at  timestamptz
);
CREATE INDEX runtime_operation_log_game ON runtime_operation_log (game_id, started_at DESC);

CREATE TABLE runtime_health_snapshots (
    snapshot_id uuid PRIMARY KEY,
    game_id     uuid NOT NULL,
    observed_at timestamptz NOT NULL DEFAULT now(),
    payload     jsonb NOT NULL
);
CREATE INDEX runtime_health_snapshots_game ON runtime_health_snapshots (game_id, observed_at DESC);
