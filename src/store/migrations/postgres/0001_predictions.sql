-- Every prediction the service answered: the input, the answer, and when.
CREATE TABLE IF NOT EXISTS predictions (
    id TEXT PRIMARY KEY NOT NULL,
    created_at_us BIGINT NOT NULL,
    query TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    query_id TEXT NOT NULL,
    parsed BOOLEAN NOT NULL,
    predicted_seconds DOUBLE PRECISION NOT NULL,
    p10 DOUBLE PRECISION NOT NULL,
    p90 DOUBLE PRECISION NOT NULL,
    class TEXT NOT NULL,
    prob_fast DOUBLE PRECISION NOT NULL,
    prob_medium DOUBLE PRECISION NOT NULL,
    prob_slow DOUBLE PRECISION NOT NULL,
    explanation_baseline DOUBLE PRECISION NOT NULL,
    explanation TEXT NOT NULL,
    model_version TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS predictions_created ON predictions (created_at_us DESC, id DESC);
CREATE INDEX IF NOT EXISTS predictions_query_id ON predictions (query_id, created_at_us DESC);
