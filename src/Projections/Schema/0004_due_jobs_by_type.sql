-- Runners claim one type at a time, oldest due first: by type, then due time. The index by due time
-- alone made a claim scan every queued job of other types (a backlog of an external type, say).
DROP INDEX job_status_due;
CREATE INDEX job_status_due ON job_status (type, run_after) WHERE status = 'queued';
