"""The pipeline: one module per stage, and :func:`run` composing them.

The Airflow DAG calls the stage functions one task each; the command line calls :func:`run`, which calls the same
functions in the same order. PostgreSQL is the state between stages: every stage selects its work from the
database, so a retried or re-run stage continues where the last one stopped and never loads anything twice.

Stages: ``sync_feeds`` -> ``fetch_feeds`` (:mod:`.stage_feeds`) -> ``extract_articles`` (:mod:`.stage_extract`)
-> ``classify_articles`` (:mod:`.stage_classify`) -> ``finish_run`` (:mod:`.stage_runs`).
"""

from .planning import plan_extraction_batches, plan_feed_batches
from .preflight import check_config
from .run import run, with_db_retries
from .stage_classify import classify_articles
from .stage_extract import extract_articles, process_page, reextract_articles
from .stage_feeds import fetch_feeds, fetch_one_feed, sync_feeds
from .stage_runs import finish_run, start_run

__all__ = ["check_config", "classify_articles", "extract_articles", "fetch_feeds", "fetch_one_feed", "finish_run",
           "plan_extraction_batches", "plan_feed_batches", "process_page", "reextract_articles", "run", "start_run",
           "sync_feeds", "with_db_retries"]
