"""
### crypto_news_poll

Reads the feeds that are due, every 15 minutes, so that a fast feed is read before its items fall out of it.

Each fetch sets the feed's next check (`feeds.next_check_at`): half the feed's window (the hours its items
span, by the publisher's dates), never sooner than the publisher's `ttl`, `sy:updatePeriod`, `Cache-Control:
max-age` or `Retry-After` ask, bounded by `CRYPTO_NEWS_POLL_MIN_S` (15 minutes) and `CRYPTO_NEWS_POLL_MAX_S`
(a day); failures back off. This DAG fetches only the feeds whose time has come, with the sitemap catch-up and
gap detection of every fetch, and stores their items as pending articles. Page extraction and labelling are
left to `crypto_news_daily` (or to its next run); docs/AIRFLOW.md says how to choose.

Stages: `start_run` → `sync_feeds` → `due_feeds` → `plan_fetch` → `fetch_feeds` (mapped, pool
`crypto_news_http`) → `finish_run`. Each task runs the declared stage of the same name
(`crypto_news.pipeline.stages`, the ones `crypto-news run` and `crypto_news_daily` follow) through
`crypto_news.orchestration.tasks`, under the run lock; `due_feeds` picks the feeds, and a poll's `finish_run`
records the run without failing it when a feed failed. This file is wiring only.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta

from airflow.sdk import dag, task

from crypto_news.orchestration.alerts import default_args

HTTP_POOL = "crypto_news_http"

DEFAULT_ARGS = default_args(retries=1, max_retry_delay=timedelta(minutes=5),
                            execution_timeout=timedelta(minutes=10))


@dag(
    dag_id="crypto_news_poll",
    schedule=os.environ.get("CRYPTO_NEWS_POLL_SCHEDULE", "*/15 * * * *"),
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["crypto-news", "ingest"],
    params={"feeds_file": None},
    doc_md=__doc__,
)
def crypto_news_poll():
    # Task arguments are left unannotated: when the DAG is built they are XCom references, not the values the
    # task receives when it runs (lists of feed ids, the run id).
    @task(execution_timeout=timedelta(minutes=5))
    def start_run(run_id=None) -> int:
        from crypto_news.orchestration import tasks

        return tasks.run_stage("start_run", run_key=f"poll:{run_id}")

    @task(execution_timeout=timedelta(minutes=5))
    def sync_feeds(params=None) -> list[int]:
        from crypto_news.orchestration import tasks

        return tasks.run_stage("sync_feeds", params=params)

    @task(execution_timeout=timedelta(minutes=5))
    def due_feeds(feed_ids) -> list[int]:
        from crypto_news.orchestration import tasks

        return tasks.due_feeds(feed_ids)

    @task(execution_timeout=timedelta(minutes=5))
    def plan_fetch(feed_ids) -> list[list[int]]:
        from crypto_news.orchestration import tasks

        return tasks.plan_stage("fetch_feeds", feed_ids=feed_ids) if feed_ids else []

    @task(pool=HTTP_POOL, execution_timeout=timedelta(minutes=14))
    def fetch_feeds(batch, run, feed_ids, params=None) -> dict:
        from crypto_news.orchestration import tasks

        # params: the run's feed list, which holds the credentials of feeds behind HTTP authentication
        return tasks.run_stage("fetch_feeds", run=run, feed_ids=feed_ids, batch=batch, params=params)

    @task(trigger_rule="all_done", execution_timeout=timedelta(minutes=5))
    def finish_run(run, feed_ids) -> dict:
        from crypto_news.orchestration import tasks

        return tasks.finish_poll(run, feed_ids)

    run = start_run()
    feed_ids = sync_feeds()
    run >> feed_ids
    due = due_feeds(feed_ids)
    fetched = fetch_feeds.partial(run=run, feed_ids=due).expand(batch=plan_fetch(due))
    finished = finish_run(run, due)
    fetched >> finished


crypto_news_poll()
