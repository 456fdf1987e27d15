"""The DAG's task bodies: one declared stage (:mod:`crypto_news.pipeline.stages`) per task, run the way
``crypto-news run`` runs it, with the settings read once per task and the run lock held (shared) while it works.

A stage whose result is a verdict on the data (the run failed, a quality check failed) fails its task without
retries: retrying would find the same.
"""

from __future__ import annotations

import logging
from pathlib import Path

from ..config import Settings
from ..pipeline.stages import Batch, RunContext, stage
from . import connection

log = logging.getLogger(__name__)


def _context(run: int | None, feed_ids: list[int] | None, params: dict | None, run_key: str | None) -> RunContext:
    settings = Settings.from_env()
    return RunContext(db_url=connection.db_url(), settings=settings, trigger="airflow", run_key=run_key,
                      feeds_file=Path(connection.feeds_file(params, settings)), run_id=run,
                      feed_ids=list(feed_ids or []))


def run_stage(name: str, run: int | None = None, feed_ids: list[int] | None = None, batch: Batch | None = None,
              params: dict | None = None, run_key: str | None = None):
    """Run stage ``name`` (one batch of it when mapped); return what the task hands on."""
    from airflow.sdk.exceptions import AirflowFailException

    from ..warehouse import migrations, runlock

    s = stage(name)
    ctx = _context(run, feed_ids, params, run_key)
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
