-- One owner per game: the lease that says which instance runs a game's actor.
-- A lease is held by one process run (holder = its instance id, holder_run = the
-- run) until expires_at, renewed by its holder; a crashed holder's lease lapses on
-- its own and a clean shutdown frees it at once (holder NULL). The epoch grows by
-- one at every claim, so it names one holding: every write of a game actor and
-- every engine call it makes carries it, and a holder that lost the lease (paused
-- past its expiry, then woken) is refused by the database and by the engine.
-- No foreign key to games: the lease is coordination, claimed by game id alone,
-- and a row for a game that is gone costs nothing.

CREATE TABLE game_leases (
    game_id uuid PRIMARY KEY,
    holder text,
    holder_run text,
    epoch bigint NOT NULL CHECK (epoch > 0),
    claimed_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    CHECK ((holder IS NULL) = (holder_run IS NULL))
);

CREATE INDEX game_leases_holder ON game_leases (holder) WHERE holder IS NOT NULL;
