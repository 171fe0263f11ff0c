-- The MLOps pipeline's state (issue #7): artifacts (for the database
-- artifact store), runs, model versions, aliases, ingested observations,
-- ingest watermarks and the pipeline's lease lock. Times are microseconds
-- since the Unix epoch (UTC), like predictions.created_at_us.

CREATE TABLE IF NOT EXISTS artifacts (
    key TEXT PRIMARY KEY NOT NULL,
    bytes BYTEA NOT NULL,
    updated_at_us BIGINT NOT NULL
);

CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY NOT NULL,
    started_at_us BIGINT NOT NULL,
    ended_at_us BIGINT,
    -- running | succeeded | failed | crashed
    status TEXT NOT NULL,
    -- promoted | refused | skipped (succeeded runs only)
    decision TEXT,
    params TEXT NOT NULL,
    dataset_fingerprint TEXT,
    code_version TEXT NOT NULL,
    metrics TEXT NOT NULL,
    artifacts TEXT NOT NULL,
    model_version TEXT,
    error TEXT,
    log TEXT NOT NULL,
    holder TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS runs_started ON runs (started_at_us DESC);
CREATE INDEX IF NOT EXISTS runs_status ON runs (status);

CREATE TABLE IF NOT EXISTS model_versions (
    version TEXT PRIMARY KEY NOT NULL,
    run_id TEXT NOT NULL,
    created_at_us BIGINT NOT NULL,
    algorithm TEXT NOT NULL,
    metrics TEXT NOT NULL,
    artifact_key TEXT NOT NULL,
    artifact_uri TEXT NOT NULL,
    dataset_fingerprint TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS model_versions_created ON model_versions (created_at_us DESC);

CREATE TABLE IF NOT EXISTS aliases (
    name TEXT PRIMARY KEY NOT NULL,
    version TEXT NOT NULL,
    updated_at_us BIGINT NOT NULL
);

-- Every alias move (promotions and rollbacks), for the audit trail.
CREATE TABLE IF NOT EXISTS alias_history (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL,
    version TEXT NOT NULL,
    previous TEXT,
    changed_at_us BIGINT NOT NULL,
    reason TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS observations (
    id BIGSERIAL PRIMARY KEY,
    -- SHA-256 of (time, thread, seconds, statement): the dedupe key.
    key TEXT NOT NULL UNIQUE,
    -- Start time as the server logged it (its local time), read as UTC.
    time_us BIGINT,
    query TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    query_id TEXT NOT NULL,
    seconds DOUBLE PRECISION NOT NULL,
    lock_seconds DOUBLE PRECISION,
    rows_sent BIGINT,
    rows_examined BIGINT,
    db TEXT,
    thread_id BIGINT,
    source TEXT NOT NULL,
    run_id TEXT NOT NULL,
    ingested_at_us BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS observations_query_id ON observations (query_id);
CREATE INDEX IF NOT EXISTS observations_run ON observations (run_id);

CREATE TABLE IF NOT EXISTS watermarks (
    source TEXT PRIMARY KEY NOT NULL,
    state TEXT NOT NULL,
    updated_at_us BIGINT NOT NULL
);

CREATE TABLE IF NOT EXISTS pipeline_lock (
    name TEXT PRIMARY KEY NOT NULL,
    holder TEXT NOT NULL,
    run_id TEXT,
    acquired_at_us BIGINT NOT NULL,
    expires_at_us BIGINT NOT NULL
);
