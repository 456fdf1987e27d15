"""The pipeline: one module per stage, and :func:`run` composing them.

The Airflow DAG calls the stage functions one task each; the command line calls :func:`run`, which calls the same
functions in the same order. PostgreSQL is the state between stages: every stage selects its work from the
database, so a retried or re-run stage continues where the last one stopped and never loads anything twice.

Stages: ``sync_feeds`` -> ``fetch_feeds`` (:mod:`.stage_feeds`, with the sitemap catch-up of :mod:`.sitemaps`)
-> ``extract_articles`` (:mod:`.stage_extract`) -> ``classify_articles`` (:mod:`.stage_classify`) -> ``finish_run``
(:mod:`.stage_runs`). Past days: ``backfill_sitemaps`` (:mod:`.stage_backfill`); the poll DAG: ``due_feed_ids``.
"""

from .planning import due_feed_ids, plan_extraction_batches, plan_feed_batches
from .run import run, with_db_retries
from .stage_backfill import backfill, backfill_sitemaps, interval_needs_backfill
from .stage_classify import classify_articles
from .stage_extract import extract_articles, process_page, reextract_articles
from .stage_feeds import fetch_feeds, fetch_one_feed, sync_feeds
from .stage_runs import finish_run, start_run

__all__ = ["backfill", "backfill_sitemaps", "classify_articles", "due_feed_ids", "extract_articles", "fetch_feeds", "fetch_one_feed", "finish_run",
           "plan_extraction_batches", "plan_feed_batches", "process_page", "reextract_articles", "run", "start_run",
           "sync_feeds", "interval_needs_backfill", "with_db_retries"]
