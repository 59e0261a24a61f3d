ALTER TABLE job_status
    ADD COLUMN max_attempts int NOT NULL DEFAULT 1,
    ADD COLUMN failures     int NOT NULL DEFAULT 0;

-- Dead letters: a tenant's failed jobs, newest first, paged by (completed_at, id).
CREATE INDEX job_status_dead_letters ON job_status (tenant_id, completed_at DESC, id DESC) WHERE status = 'failed';

-- Who holds a running job's current attempt, until when. Not a projection: renewals are frequent
-- and are not history, and a rebuild of the read models must not drop the leases of running jobs.
-- Times are the database's clock, so nodes whose clocks drift still agree on expiry.
CREATE TABLE job_leases (
    job_id     uuid        PRIMARY KEY,
    attempt    int         NOT NULL,
    token      uuid        NOT NULL,
    holder     text        NOT NULL,
    expires_at timestamptz NOT NULL
);

CREATE INDEX job_leases_by_expiry ON job_leases (expires_at);
