-- Predictions the database refused on their own account (not because it
-- was down): kept whole, as JSON, with the reason, so an acknowledged
-- prediction is never dropped and never blocks the ones behind it.
CREATE TABLE IF NOT EXISTS prediction_dead_letters (
    id TEXT PRIMARY KEY NOT NULL,
    created_at_us BIGINT NOT NULL,
    record TEXT NOT NULL,
    reason TEXT NOT NULL,
    failed_at_us BIGINT NOT NULL
);

-- /predictions?fingerprint= reads one query ID's rows newest first from
-- this index (a fingerprint text is turned into its query ID first).
CREATE INDEX IF NOT EXISTS predictions_query_id_page ON predictions (query_id, created_at_us DESC, id DESC);
DROP INDEX IF EXISTS predictions_query_id;
