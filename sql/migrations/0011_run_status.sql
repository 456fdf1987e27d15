-- 0011: a run says which tasks or stages failed and why, whatever stage it was. A task records its own error as it
-- fails (stage_errors, keyed by task label such as `sync_feeds` or `extract_articles[3]`); the run's last step
-- lists the tasks that ended failed (failed_stages) and the run is `failed` when there is any. The view
-- v_pipeline_runs shows failed_stages: its file (sql/views/50_v_pipeline_runs.sql) says so too, and is what
-- later changes edit; it is restated here so that the migrations alone build the same views as the files.
ALTER TABLE pipeline_runs ADD COLUMN failed_stages text[] NOT NULL DEFAULT '{}';
ALTER TABLE pipeline_runs ADD COLUMN stage_errors jsonb NOT NULL DEFAULT '{}'::jsonb;
COMMENT ON COLUMN pipeline_runs.failed_stages IS 'Tasks (Airflow) or stages (command line) that failed in this run, e.g. {sync_feeds} or {extract_articles[3]}; empty when none did.';
COMMENT ON COLUMN pipeline_runs.stage_errors IS 'The last error each task or stage recorded as it failed, {"task": "Type: message"}; kept also when a later try succeeded (failed_stages says which ended failed).';

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
