"""The whole run in-process (the command line's ``run``): the same stage functions the DAG calls, under the run
lock, each stage retried when the database connection fails."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from ..config import Settings
from ..warehouse import db, migrations, runlock, runs
from .stage_classify import classify_articles
from .stage_extract import extract_articles
from .stage_feeds import fetch_feeds, sync_feeds
from .stage_runs import finish_run, start_run

log = logging.getLogger("crypto_news")

DB_RETRY_DELAYS_S = (1, 2, 4, 8, 15, 30)  # a restarting server usually answers again within seconds


def store_call(db_url: str, fn, *args):
    """Run one store function on its own short connection and commit."""
    conn = db.connect(db_url)
    try:
        result = fn(conn, *args)
        conn.commit()
        return result
    finally:
        conn.close()


def with_db_retries(name: str, fn, *args, **kwargs):
    """Run a stage; when the database connection fails (restart, dropped connection), run it again after a pause.
    Stages are idempotent: what a failed attempt committed is kept, what it did not is redone."""
    for attempt, delay in enumerate((*DB_RETRY_DELAYS_S, None), start=1):
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            if delay is None or not db.is_transient(exc):
                raise
            log.warning("stage %s: database unavailable (%s); attempt %d again in %d s", name,
                        " ".join(str(exc).split())[:200], attempt + 1, delay)
            time.sleep(delay)


def run(db_url: str, feeds_file: str | Path | None = None, settings: Settings | None = None, trigger: str = "cli",
        run_key: str | None = None) -> dict:
    """One whole pipeline run in-process (the command line's ``run``): the same stage functions the DAG calls.

    The run holds the run lock throughout (a second run is refused); a stage whose database connection fails is
    run again after taking the lock again. The summary also carries ``stage_seconds``, each stage's wall time."""
    settings = settings or Settings.from_env()
    feeds_file = feeds_file or settings.feeds_file
    timings: dict[str, float] = {}
    started = time.perf_counter()
    migrations.migrate(db_url)  # an unreachable database at the start fails at once, without retries
    timings["migrate"] = round(time.perf_counter() - started, 3)
    with runlock.run_lock(db_url) as lock:

        def stage(name, fn, *args, **kwargs):
            def attempt():
                lock.ensure()  # a database restart ends the lock's session: take the lock again first
                return fn(*args, **kwargs)

            began = time.perf_counter()
            try:
                return with_db_retries(name, attempt)
            finally:
                timings[name] = round(time.perf_counter() - began, 3)

        abandoned = stage("recover", store_call, db_url, runs.close_abandoned_runs)
        if abandoned:
            log.warning("marked %d earlier run(s) as failed: their process ended without finishing", abandoned)
        run_id = stage("start_run", start_run, db_url, run_key, trigger)
        feed_ids: list[int] = []
        try:
            feed_ids = stage("sync_feeds", sync_feeds, db_url, feeds_file)
            stage("fetch_feeds", fetch_feeds, db_url, run_id, feed_ids, settings, feeds_file)
            stage("extract", extract_articles, db_url, run_id, settings)
            stage("classify", classify_articles, db_url, run_id)
        except Exception as exc:
            try:
                finish_run(db_url, run_id, feed_ids, error=db.mask_secrets(f"{type(exc).__name__}: {exc}", db_url),
                           stage_seconds=timings)
            except Exception:  # the database itself may be what failed; the original error matters more
                log.exception("could not record the failed run")
            raise
        return stage("finish_run", finish_run, db_url, run_id, feed_ids, stage_seconds=timings)
