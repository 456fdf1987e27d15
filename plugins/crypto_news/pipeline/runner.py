"""The whole run in-process (the command line's ``run``): the declared stages (:mod:`.stages`) in order, under the
run lock, each stage run again when the database connection fails."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from ..config import Settings
from ..warehouse import db, migrations, runlock
from .stages import STAGES, RunContext

log = logging.getLogger(__name__)

DB_RETRY_DELAYS_S = (1, 2, 4, 8, 15, 30)  # a restarting server usually answers again within seconds


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
    """One whole pipeline run in-process: every stage of :data:`~.stages.STAGES`, in order, as the DAG runs them.

    The run holds the run lock throughout (a second run is refused); a stage whose database connection fails is
    run again after taking the lock again. When a stage fails, the run is recorded as failed and the error raised.
    The summary also carries ``stage_seconds`` (each stage's wall time, up to the run's recording), the result of
    each stage that checks the recorded run (``quality_checks``: each check's value) and ``failed_checks`` (one
    message per failed check stage) when there are any."""
    ctx = RunContext(db_url=db_url, settings=settings or Settings.from_env(), trigger=trigger, run_key=run_key,
                     feeds_file=Path(feeds_file) if feeds_file else None)
    timings: dict[str, float] = {}
    started = time.perf_counter()
    # an unreachable database at the start fails at once, without retries
    migrations.prepare(db_url, ctx.settings.auto_migrate)
    timings["migrate"] = round(time.perf_counter() - started, 3)
    with runlock.run_lock(db_url) as lock:

        def attempt(stage, **kwargs):
            lock.ensure()  # a database restart ends the lock's session: take the lock again first
            return stage.call(ctx, None, **kwargs)

        def call(stage, **kwargs):
            began = time.perf_counter()
            try:
                return with_db_retries(stage.name, attempt, stage, **kwargs)
            finally:
                timings[stage.name] = round(time.perf_counter() - began, 3)

        summary: dict | None = None
        for stage in STAGES:
            if stage.records_run:
                summary = call(stage, stage_seconds=timings)
                continue
            try:
                result = call(stage)
            except Exception as exc:
                if summary is None and ctx.run_id is not None:
                    _record_failure(ctx, exc, timings)
                raise
            if stage.provides:
                setattr(ctx, stage.provides, result)
            if summary is not None:  # a check on the recorded run
                summary[stage.name] = stage.report(result) if stage.report else result
                failed = stage.verdict(result) if stage.verdict else None
                if failed:
                    summary.setdefault("failed_checks", []).append(failed)
                    _mark_failed(ctx, stage.name, failed, summary)
        assert summary is not None, "no stage recorded the run"
        return summary


def _record_failure(ctx: RunContext, exc: BaseException, timings: dict) -> None:
    """Record the run as failed by the stage that raised; the original error is what the caller sees."""
    recorder = next(s for s in STAGES if s.records_run)
    try:
        recorder.call(ctx, None, error=db.mask_secrets(f"{type(exc).__name__}: {exc}", ctx.db_url),
                      stage_seconds=timings)
    except Exception:  # the database itself may be what failed; the original error matters more
        log.exception("could not record the failed run")


def _mark_failed(ctx: RunContext, stage_name: str, message: str, summary: dict) -> None:
    """A check failing after the run was recorded turns the recorded run failed, as in the DAG: the row must not say
    success for a run whose checks failed."""
    from ..warehouse import runs

    assert ctx.run_id is not None, "a check runs on a recorded run"
    conn = db.connect(ctx.db_url)
    try:
        error = runs.mark_failed(conn, ctx.run_id, stage_name, message)
    finally:
        conn.close()
    summary.update(status="failed", error=error)
    summary["failed_stages"] = [*summary.get("failed_stages", []), stage_name]
