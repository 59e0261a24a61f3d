-- The sweep looks for running jobs that have no lease: a partial index keeps that cheap.
CREATE INDEX job_status_processing ON job_status (id) WHERE status = 'processing';
