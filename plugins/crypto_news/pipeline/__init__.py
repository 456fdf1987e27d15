"""The pipeline: the stages of a run declared once (:mod:`.stages`), one module per stage, and :func:`run`
composing them (:mod:`.runner`).

The Airflow DAG makes one task per declared stage; the command line calls :func:`run`, which calls the same stage
functions in the same order. PostgreSQL is the state between stages: every stage selects its work from the
database, so a retried or re-run stage continues where the last one stopped and never loads anything twice.

Stages: ``start_run`` -> ``sync_feeds`` -> ``fetch_feeds`` (:mod:`.stage_feeds`, with the sitemap catch-up of
:mod:`.sitemaps`) -> ``backfill_interval`` (:mod:`.stage_backfill`; only for an Airflow backfill or a past interval)
-> ``extract_articles`` (:mod:`.stage_extract`) -> ``classify_articles`` (:mod:`.stage_classify`) -> ``finish_run``
(:mod:`.stage_runs`) -> ``quality_checks``. Past days on the command line: :func:`backfill`; the poll DAG:
:func:`due_feed_ids`.

The names below are loaded on first use: the DAG file imports :mod:`.stages` when it is parsed, and must not pay
for the extraction and HTTP libraries then.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

_EXPORTS = {
    "due_feed_ids": "planning", "plan_extraction_batches": "planning", "plan_feed_batches": "planning", "run": "runner",
    "backfill": "stage_backfill", "backfill_sitemaps": "stage_backfill", "interval_needs_backfill": "stage_backfill",
    "with_db_retries": "runner", "classify_articles": "stage_classify", "extract_articles": "stage_extract",
    "process_page": "stage_extract", "reextract_articles": "stage_extract", "fetch_feeds": "stage_feeds",
    "fetch_one_feed": "stage_feeds", "sync_feeds": "stage_feeds", "finish_run": "stage_runs",
    "start_run": "stage_runs", "check_config": "preflight",
}
__all__ = ["backfill", "backfill_sitemaps", "check_config", "classify_articles", "due_feed_ids", "extract_articles",
           "fetch_feeds", "fetch_one_feed", "finish_run", "interval_needs_backfill", "plan_extraction_batches",
           "plan_feed_batches", "process_page", "reextract_articles", "run", "start_run", "sync_feeds",
           "with_db_retries"]

if TYPE_CHECKING:
    from .planning import due_feed_ids, plan_extraction_batches, plan_feed_batches
    from .preflight import check_config
    from .runner import run, with_db_retries
    from .stage_backfill import backfill, backfill_sitemaps, interval_needs_backfill
    from .stage_classify import classify_articles
    from .stage_extract import extract_articles, process_page, reextract_articles
    from .stage_feeds import fetch_feeds, fetch_one_feed, sync_feeds
    from .stage_runs import finish_run, start_run


def __getattr__(name: str):
    if name in _EXPORTS:
        value = globals()[name] = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
