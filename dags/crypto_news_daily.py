"""
### crypto_news_daily

Pulls the crypto-news feeds, extracts each new article's text, labels it (regulation / adoption / mining) and loads
everything into the `crypto_news` schema of the warehouse (Airflow Connection `crypto_news_db`).

Stages: `start_run` → `sync_feeds` → `plan_fetch` → `fetch_feeds` (mapped per batch of feeds, one host per batch,
pool `crypto_news_http`; each fetch also catches up from the site's sitemaps) → `backfill_interval` (for an Airflow
backfill or a run of a past interval: the articles the sites' sitemaps date in the run's data interval)
→ `plan_extraction` → `extract_articles` (mapped per batch of `CRYPTO_NEWS_EXTRACT_BATCH`
pending article ids, pool `crypto_news_http`) → `classify_articles` → `finish_run` (when the run is recorded
successful or partial, updates the Asset `crypto_news_articles`, its event carrying the run's counts) →
`quality_checks`. Each mapped batch is named in the UI by what it holds ("feeds 3, 7", "articles 120-319 (200)").
Parameter `feeds_file`: another feed list for a manual run (default: `CRYPTO_NEWS_FEEDS`).

Tasks pass ids and counts only; PostgreSQL is the state between them, so a retried or cleared task continues where
the last attempt stopped and never loads a row twice. A feed that fails does not stop the run: `finish_run` records
it as `partial`; a run in which every feed failed, or any task failed, is recorded `failed` with the failed tasks
and their errors. A configuration error fails its task at once, without retries. Each task's failure is one line
in its log; the run alerts once (`crypto_news.orchestration.alerts.RunAlertNotifier`, to the Airflow Connection
`crypto_news_alerts`), and again when it is still not done 3 hours after it was queued (`CRYPTO_NEWS_RUN_DEADLINE_MIN`).
Backfills and reruns: docs/AIRFLOW.md.

The stages are declared once, in `crypto_news.pipeline.stages.STAGES`; this file makes one task per stage in that
order (the same list `crypto-news run` follows), and each task runs its stage through
`crypto_news.orchestration.tasks` under the run lock. This file is wiring only: task options per stage.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta

from airflow.sdk import CronTriggerTimetable, Param, dag, task

from crypto_news.orchestration.alerts import default_args, run_alerts
from crypto_news.orchestration.assets import ARTICLES
from crypto_news.orchestration.tasks import MAP_INDEX_TEMPLATE
from crypto_news.pipeline.stages import STAGES

HTTP_POOL = "crypto_news_http"  # created by the setup: `airflow pools set crypto_news_http N "crypto-news HTTP tasks"`

DEFAULT_ARGS = default_args(retries=3, max_retry_delay=timedelta(minutes=20), execution_timeout=timedelta(hours=1))
MINUTES = timedelta(minutes=1)
# Task options per declared stage (and its planning task, for mapped stages). A stage missing here fails the parse.
TASK_OPTIONS: dict[str, dict] = {
    "start_run": {"execution_timeout": 5 * MINUTES},
    "sync_feeds": {"execution_timeout": 5 * MINUTES},
    "plan_fetch": {"execution_timeout": 5 * MINUTES},
    "fetch_feeds": {"execution_timeout": 30 * MINUTES},
    "backfill_interval": {"trigger_rule": "all_done", "execution_timeout": 45 * MINUTES},
    "plan_extraction": {"trigger_rule": "all_done", "execution_timeout": 5 * MINUTES},
    "extract_articles": {"execution_timeout": 45 * MINUTES},
    "classify_articles": {"trigger_rule": "none_failed", "execution_timeout": 45 * MINUTES},
    "finish_run": {"trigger_rule": "all_done", "retries": 1, "execution_timeout": 5 * MINUTES, "outlets": [ARTICLES]},
    "quality_checks": {"retries": 1, "execution_timeout": 10 * MINUTES},
}


def _run_stage(stage_name: str, run=None, feed_ids=None, batch=None, params=None, run_id=None,
               data_interval_start=None, data_interval_end=None, dag_run=None):
    from crypto_news.orchestration import tasks

    return tasks.run_stage(stage_name, run=run, feed_ids=feed_ids, batch=batch, params=params, run_key=run_id,
                           interval=(data_interval_start, data_interval_end),
                           run_type=getattr(dag_run, "run_type", None))


def _plan_stage(stage_name: str, run=None, feed_ids=None, params=None):
    from crypto_news.orchestration import tasks

    return tasks.plan_stage(stage_name, run=run, feed_ids=feed_ids, params=params)


@dag(
    dag_id="crypto_news_daily",
    # A cron trigger with a day's data interval: a run at its time covers the day before it. Without `interval`,
    # Airflow 3 gives cron schedules an empty data interval, and `backfill_interval` would have no day to fill.
    schedule=CronTriggerTimetable(os.environ.get("CRYPTO_NEWS_SCHEDULE", "@daily"), timezone="UTC",
                                  interval=timedelta(days=1)),
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["crypto-news", "ingest"],
    params={
        "feeds_file": Param(None, type=["null", "string"], minLength=1, title="Feed list",
                            description="Path of another feed list (YAML) for this run, as the workers see it; "
                                        "empty: CRYPTO_NEWS_FEEDS or config/feeds.yml"),
    },
    doc_md=__doc__,
    **run_alerts(default_deadline_min=180),  # one alert per failed run; another when a run is 3 h late
)
def crypto_news_daily():
    provided: dict = {}  # RunContext field -> the task output that fills it ("run_id": the start task's)
    previous = None
    for stage in STAGES:
        inputs = {{"run_id": "run"}.get(need, need): provided[need] for need in stage.needs}
        options = {**TASK_OPTIONS[stage.name], "pool": HTTP_POOL} if stage.network else TASK_OPTIONS[stage.name]
        if stage.plan is not None and stage.label is not None:
            options = {**options, "map_index_template": MAP_INDEX_TEMPLATE}
        run_task = task(task_id=stage.name, **options)(_run_stage)
        if stage.plan is not None:
            plan_id = stage.plan_name or f"plan_{stage.name}"
            batches = task(task_id=plan_id, **TASK_OPTIONS[plan_id])(_plan_stage)(
                stage_name=stage.name, **inputs)
            if previous is not None:
                previous >> batches
            current = run_task.partial(stage_name=stage.name, **inputs).expand(batch=batches)
        else:
            current = run_task(stage_name=stage.name, **inputs)
            if previous is not None:
                previous >> current
        if stage.provides:
            provided[stage.provides] = current
        previous = current


crypto_news_daily()
