-- How long each turn took (the operator console's recent turns): from asking the
-- engine to run the turn to having every race's report, in milliseconds. NULL
-- for a turn archived without running it here (the start's turn 0, a recovery)
-- and for turns archived before this column.

ALTER TABLE turn_summaries ADD COLUMN duration_ms integer CHECK (duration_ms >= 0);
