-- One row per stream. Its version is the optimistic-concurrency gate: every append
-- updates it with "WHERE version = expected", and the row lock orders writers.
CREATE TABLE streams (
    id          uuid        PRIMARY KEY,
    tenant_id   text        NOT NULL,
    type        text        NOT NULL,
    version     bigint      NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    is_archived boolean     NOT NULL DEFAULT false
);

CREATE TABLE events (
    -- Global sequence number: the SSE event id. Within one stream it grows with version.
    seq_id         bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id             uuid        NOT NULL UNIQUE,
    stream_id      uuid        NOT NULL REFERENCES streams (id),
    version        bigint      NOT NULL,
    type           text        NOT NULL,
    data           jsonb       NOT NULL,
    metadata       jsonb       NOT NULL DEFAULT '{}',
    tenant_id      text        NOT NULL,
    timestamp      timestamptz NOT NULL DEFAULT now(),
    -- The writing transaction: the global feed only reads below the oldest running one,
    -- so an event whose transaction commits late is never skipped.
    transaction_id xid8        NOT NULL DEFAULT pg_current_xact_id(),
    UNIQUE (stream_id, version)
);

-- The global feed reads in (transaction_id, seq_id) order.
CREATE INDEX events_by_transaction ON events (transaction_id, seq_id);
