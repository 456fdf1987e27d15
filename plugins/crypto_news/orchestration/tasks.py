"""The DAG's task bodies: one declared stage (:mod:`crypto_news.pipeline.stages`) per task, run the way
``crypto-news run`` runs it, with the settings read once per task and the run lock held (shared) while it works.

A stage whose result is a verdict on the data (the run failed, a quality check failed) fails its task without
retries: retrying would find the same.
"""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path

from ..config import Settings
from ..pipeline.stages import Batch, RunContext, stage
from . import connection

log = logging.getLogger(__name__)


def _context(run: int | None, feed_ids: list[int] | None, params: dict | None, run_key: str | None,
             interval: tuple[datetime | None, datetime | None] = (None, None), run_type=None) -> RunContext:
    settings = Settings.from_env()
    return RunContext(db_url=connection.db_url(), settings=settings, trigger="airflow", run_key=run_key,
                      feeds_file=Path(connection.feeds_file(params, settings)), run_id=run,
                      feed_ids=list(feed_ids or []), interval_start=interval[0], interval_end=interval[1],
                      run_type=run_type_name(run_type))


def run_type_name(run_type) -> str | None:
    """A DAG run's type as its plain value (``backfill``, ``scheduled``, ``manual``, ...), whether Airflow hands
    over the enum member or its string."""
    if run_type is None:
        return None
    value = getattr(run_type, "value", run_type)
    return str(value).rsplit(".", 1)[-1].lower() or None


def run_stage(name: str, run: int | None = None, feed_ids: list[int] | None = None, batch: Batch | None = None,
              params: dict | None = None, run_key: str | None = None,
              interval: tuple[datetime | None, datetime | None] = (None, None), run_type=None):
    """Run stage ``name`` (one batch of it when mapped); return what the task hands on. ``interval`` and
    ``run_type`` are the DAG run's data interval and type (what ``backfill_interval`` reads)."""
    from airflow.sdk.exceptions import AirflowFailException

    from ..warehouse import migrations, runlock

    s = stage(name)
    ctx = _context(run, feed_ids, params, run_key, interval, run_type)
    if s.provides == "run_id":  # the first stage: the lock reads the runs table, which must exist
        migrations.migrate(ctx.db_url)
    with runlock.run_lock(ctx.db_url, shared=True):
        result = s.call(ctx, batch)
    message = s.verdict(result) if s.verdict else None
    if message:
        raise AirflowFailException(message)
    return s.report(result) if s.report else result


def plan_stage(name: str, run: int | None = None, feed_ids: list[int] | None = None,
               params: dict | None = None) -> list[Batch]:
    """The batches of mapped stage ``name``, one task each."""
    s = stage(name)
    assert s.plan is not None, f"stage {name} is not mapped"
    return s.plan(_context(run, feed_ids, params, None))


def due_feeds(feed_ids: list[int]) -> list[int]:
    """The poll DAG's choice: the feeds among ``feed_ids`` whose next check time has come."""
    from ..pipeline.planning import due_feed_ids

    return due_feed_ids(connection.db_url(), feed_ids)


def finish_poll(run: int, feed_ids: list[int]) -> dict:
    """Record a poll run, like ``finish_run`` but without its verdict: a poll reads a few due feeds every quarter
    hour, and one of them failing is the feed's health (``v_feed_health``), not a reason to fail the DAG run."""
    from ..warehouse import runlock

    ctx = _context(run, feed_ids, None, None)
    with runlock.run_lock(ctx.db_url, shared=True):
        summary = stage("finish_run").call(ctx, None)
    return {k: summary.get(k) for k in ("run_id", "status", "feeds_total", "articles_new", "items_backfilled",
                                        "feeds_with_gap")}
