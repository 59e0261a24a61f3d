-- The status read model: one row per job, kept inline with its events. GET /jobs/{id} is one
-- primary-key lookup here; runners find due jobs through the partial index.
CREATE TABLE job_status (
    id                     uuid        PRIMARY KEY,
    tenant_id              text        NOT NULL,
    type                   text        NOT NULL,
    status                 text        NOT NULL CHECK (status IN ('queued', 'processing', 'completed', 'failed', 'cancelled')),
    progress               int         NOT NULL,
    message                text,
    attempt                int         NOT NULL,
    idempotency_key        text        NOT NULL,
    fingerprint            text        NOT NULL,
    correlation_id         text,
    callback_url           text,
    error_code             text,
    error_message          text,
    cancellation_requested boolean     NOT NULL,
    created_at             timestamptz NOT NULL,
    updated_at             timestamptz NOT NULL,
    completed_at           timestamptz,
    -- While queued: when a runner may take it.
    run_after              timestamptz,
    -- The last event applied; updates are guarded by it.
    version                bigint      NOT NULL,
    last_seq               bigint      NOT NULL
);

CREATE INDEX job_status_due ON job_status (run_after) WHERE status = 'queued';

-- A completed job's result, apart from its status so the status row stays small.
CREATE TABLE job_results (
    job_id       uuid        PRIMARY KEY,
    content_type text        NOT NULL,
    -- JSON, or a JSON string holding the text of another content type (a CSV).
    body         jsonb       NOT NULL,
    completed_at timestamptz NOT NULL
);
