-- A game whose engine reported the end keeps its record as `finished`: its
-- engine is stopped (state directory kept) and recovery never runs it again.

ALTER TABLE runtime_records DROP CONSTRAINT runtime_records_status_check;
ALTER TABLE runtime_records ADD CONSTRAINT runtime_records_status_check
    CHECK (status IN ('starting', 'running', 'stopped', 'failed', 'removed', 'finished'));
