-- The turn archive: every race's report of every completed turn, and the
-- turn's summary (the engine's status after it), kept by the backend so that
-- reports are read from the store, not from the engine: past turns, games
-- whose engine is down, and games that have ended. Reports are zlib-compressed
-- JSON (a report is mostly repeated keys: ~8x smaller).

CREATE TABLE turn_summaries (
    game_id     uuid NOT NULL REFERENCES games (game_id) ON DELETE CASCADE,
    turn        integer NOT NULL CHECK (turn >= 0),
    summary     jsonb NOT NULL,
    archived_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (game_id, turn)
);

CREATE TABLE turn_reports (
    game_id   uuid NOT NULL,
    turn      integer NOT NULL,
    race_name text NOT NULL,
    body      bytea NOT NULL,
    -- race first: "this race's latest report" is one backward step on the key
    PRIMARY KEY (game_id, race_name, turn),
    FOREIGN KEY (game_id, turn) REFERENCES turn_summaries (game_id, turn) ON DELETE CASCADE
);
