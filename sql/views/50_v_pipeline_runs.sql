-- One row per pipeline run, without the JSON summary.
CREATE OR REPLACE VIEW v_pipeline_runs AS
SELECT
    r.run_id,
    r.run_key,
    r.trigger,
    r.status,
    r.started_at,
    r.finished_at,
    (r.started_at AT TIME ZONE 'UTC')::date                          AS run_day,
    extract(epoch FROM (r.finished_at - r.started_at))::double precision AS duration_s,
    r.feeds_total,
    r.feeds_ok,
    r.feeds_not_modified,
    r.feeds_failed,
    r.items_seen,
    r.articles_new,
    r.articles_extracted,
    r.articles_classified,
    r.labels_written,
    r.error,
    r.failed_stages
FROM pipeline_runs r;

COMMENT ON VIEW v_pipeline_runs IS 'Pipeline runs with duration, counters and status (the run summary JSON left out).';
COMMENT ON COLUMN v_pipeline_runs.run_id IS 'Run identifier.';
COMMENT ON COLUMN v_pipeline_runs.run_key IS 'Unique run key (Airflow run id or generated).';
COMMENT ON COLUMN v_pipeline_runs.trigger IS 'cli, airflow, test or bench.';
COMMENT ON COLUMN v_pipeline_runs.status IS 'running, success, partial or failed.';
COMMENT ON COLUMN v_pipeline_runs.started_at IS 'Start time.';
COMMENT ON COLUMN v_pipeline_runs.finished_at IS 'End time (NULL while running).';
COMMENT ON COLUMN v_pipeline_runs.run_day IS 'UTC date of the start.';
COMMENT ON COLUMN v_pipeline_runs.duration_s IS 'Duration in seconds (NULL while running).';
COMMENT ON COLUMN v_pipeline_runs.feeds_total IS 'Feeds in the run.';
COMMENT ON COLUMN v_pipeline_runs.feeds_ok IS 'Feeds fetched ok or unchanged.';
COMMENT ON COLUMN v_pipeline_runs.feeds_not_modified IS 'Feeds that answered 304.';
COMMENT ON COLUMN v_pipeline_runs.feeds_failed IS 'Feeds that failed.';
COMMENT ON COLUMN v_pipeline_runs.items_seen IS 'Feed items seen.';
COMMENT ON COLUMN v_pipeline_runs.articles_new IS 'New articles.';
COMMENT ON COLUMN v_pipeline_runs.articles_extracted IS 'Articles extracted.';
COMMENT ON COLUMN v_pipeline_runs.articles_classified IS 'Articles classified.';
COMMENT ON COLUMN v_pipeline_runs.labels_written IS 'Label rows written.';
COMMENT ON COLUMN v_pipeline_runs.error IS 'Why the run failed (the failed tasks or stages and their errors, or every feed failing), else NULL.';
COMMENT ON COLUMN v_pipeline_runs.failed_stages IS 'Tasks or stages that failed in this run (empty when none did).';
