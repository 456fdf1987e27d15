"""
### crypto_news_daily

Pulls the crypto-news feeds, extracts each new article's text, labels it (regulation / adoption / mining) and loads
everything into the `crypto_news` schema of the warehouse (Airflow Connection `crypto_news_db`).

Stages: `start_run` → `sync_feeds` → `plan_fetch` → `fetch_feeds` (mapped per batch of feeds, one host per batch,
pool `crypto_news_http`; each fetch also catches up from the site's sitemaps) → `backfill_interval` (for an Airflow
backfill or a run of a past interval: the articles the sites' sitemaps date in the run's data interval)
→ `plan_extraction` → `extract_articles` (mapped per batch of `CRYPTO_NEWS_EXTRACT_BATCH`
pending article ids, pool `crypto_news_http`) → `classify_articles` (updates the Asset
`x-crypto-news://warehouse/articles`) → `finish_run` → `quality_checks`.

Tasks pass ids and counts only; PostgreSQL is the state between them, so a retried or cleared task continues where
the last attempt stopped and never loads a row twice. A feed that fails does not stop the run: `finish_run` records
it as `partial`; only a run in which every feed failed fails. Failures alert through
`crypto_news.orchestration.alerts.on_failure_callback` (one log line; a webhook when `CRYPTO_NEWS_ALERT_WEBHOOK`
is set).
Backfills and reruns: docs/AIRFLOW.md.

The logic lives in the `crypto_news` package (`plugins/`); this file is wiring only.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta

from airflow.sdk import Asset, dag, task
from crypto_news.orchestration.alerts import default_args

ARTICLES = Asset("x-crypto-news://warehouse/articles")  # updated whenever articles or their labels change
HTTP_POOL = "crypto_news_http"  # created by the setup: `airflow pools set crypto_news_http N "crypto-news HTTP tasks"`

DEFAULT_ARGS = default_args(retries=3, max_retry_delay=timedelta(minutes=20), execution_timeout=timedelta(hours=1))


@dag(
    dag_id="crypto_news_daily",
    schedule=os.environ.get("CRYPTO_NEWS_SCHEDULE", "@daily"),
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["crypto-news", "ingest"],
    params={"feeds_file": None},
    doc_md=__doc__,
)
def crypto_news_daily():
    @task(execution_timeout=timedelta(minutes=5))
    def start_run(run_id=None) -> int:
        from crypto_news import pipeline
        from crypto_news.orchestration import connection
        from crypto_news.warehouse import migrations

        url = connection.db_url()
        migrations.migrate(url)
        return pipeline.start_run(url, run_key=run_id, trigger="airflow")

    @task(execution_timeout=timedelta(minutes=5))
    def sync_feeds(params=None) -> list[int]:
        from crypto_news import pipeline
        from crypto_news.orchestration import connection

        return pipeline.sync_feeds(connection.db_url(), connection.feeds_file(params))

    @task(execution_timeout=timedelta(minutes=5))
    def plan_fetch(feed_ids: list[int]) -> list[list[int]]:
        from crypto_news import pipeline
        from crypto_news.orchestration import connection

        return pipeline.plan_feed_batches(connection.db_url(), feed_ids)

    @task(pool=HTTP_POOL, execution_timeout=timedelta(minutes=30))
    def fetch_feeds(feed_ids: list[int], run: int) -> dict:
        from crypto_news import pipeline
        from crypto_news.orchestration import connection

        return pipeline.fetch_feeds(connection.db_url(), run, feed_ids)

    @task(pool=HTTP_POOL, trigger_rule="all_done", execution_timeout=timedelta(minutes=45))
    def backfill_interval(feed_ids: list[int], run: int, data_interval_start=None, data_interval_end=None,
                          dag_run=None) -> list[dict]:
        from crypto_news import pipeline
        from crypto_news.orchestration import connection

        run_type = str(getattr(dag_run, "run_type", "") or "").rsplit(".", 1)[-1].lower()
        if data_interval_start is None or not pipeline.interval_needs_backfill(run_type, data_interval_end):
            return []
        return pipeline.backfill_sitemaps(connection.db_url(), run, feed_ids, data_interval_start, data_interval_end)

    @task(trigger_rule="all_done", execution_timeout=timedelta(minutes=5))
    def plan_extraction() -> list[list[int]]:
        from crypto_news import pipeline
        from crypto_news.orchestration import connection

        return pipeline.plan_extraction_batches(connection.db_url())

    @task(pool=HTTP_POOL, execution_timeout=timedelta(minutes=45))
    def extract_articles(article_ids: list[int], run: int) -> dict:
        from crypto_news import pipeline
        from crypto_news.orchestration import connection

        return pipeline.extract_articles(connection.db_url(), run, article_ids=article_ids)

    @task(trigger_rule="none_failed", execution_timeout=timedelta(minutes=45), outlets=[ARTICLES])
    def classify_articles(run: int) -> dict:
        from crypto_news import pipeline
        from crypto_news.orchestration import connection

        return pipeline.classify_articles(connection.db_url(), run)

    @task(trigger_rule="all_done", retries=1, execution_timeout=timedelta(minutes=5))
    def finish_run(run: int, feed_ids: list[int]) -> dict:
        from airflow.sdk.exceptions import AirflowFailException
        from crypto_news import pipeline
        from crypto_news.orchestration import connection

        summary = pipeline.finish_run(connection.db_url(), run, feed_ids)
        if summary["status"] == "failed":  # a verdict on the data, not a glitch: retrying would not change it
            raise AirflowFailException(f"crypto-news run {run} failed: {summary['error']}")
        return {k: summary[k] for k in ("run_id", "status", "feeds_failed", "articles_new", "labels_written")}

    @task(retries=1, execution_timeout=timedelta(minutes=10))
    def quality_checks(run: int) -> dict:
        from airflow.sdk.exceptions import AirflowFailException
        from crypto_news.orchestration import connection
        from crypto_news.warehouse import quality

        results = quality.run_checks(connection.db_url(), run)
        for r in results:
            print(r.line())
        try:
            quality.assert_checks(results)
        except quality.QualityError as exc:  # the data is wrong: a retry would find the same
            raise AirflowFailException(str(exc)) from None
        return {r.name: r.value for r in results}

    run = start_run()
    feed_ids = sync_feeds()
    run >> feed_ids
    fetched = fetch_feeds.partial(run=run).expand(feed_ids=plan_fetch(feed_ids))
    past = backfill_interval(feed_ids, run)
    fetched >> past
    batches = plan_extraction()
    past >> batches
    extracted = extract_articles.partial(run=run).expand(article_ids=batches)
    classified = classify_articles(run)
    extracted >> classified
    finished = finish_run(run, feed_ids)
    classified >> finished
    finished >> quality_checks(run)


crypto_news_daily()
