-- 0011: a run says which tasks or stages failed and why, whatever stage it was. A task records its own error as it
-- fails (stage_errors, keyed by task label such as `sync_feeds` or `extract_articles[3]`); the run's last step
-- lists the tasks that ended failed (failed_stages) and the run is `failed` when there is any.
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
COMMENT ON COLUMN v_pipeline_runs.failed_stages IS 'Tasks or stages that failed in this run (empty when none did).';
COMMENT ON COLUMN v_pipeline_runs.error IS 'Why the run failed (the failed tasks or stages and their errors, or every feed failing), else NULL.';
