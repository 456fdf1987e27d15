"""The DAG's task bodies: one declared stage (:mod:`crypto_news.pipeline.stages`) per task, run the way
``crypto-news run`` runs it, with the settings read once per task and the run lock held (shared) while it works.

A stage whose result is a verdict on the data (the run failed, a quality check failed) fails its task without
retries: retrying would find the same; so does a configuration error (:class:`~crypto_news.config.ConfigError`).

The run's row tells the truth whatever task failed: a task that raises notes its error on the row at once
(``stage_errors``, under its label such as ``extract_articles[3]``), before Airflow learns of the failure; the
stage that records the run asks Airflow which tasks ended failed (:func:`failed_tasks`) and records the run failed
with each one's error; a check failing after that turns the recorded run failed. The error is written from inside
the task rather than by an ``on_failure_callback`` because Airflow reports a task's final state before it runs the
callbacks: the recording stage could start before the callback had written.
"""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path

from ..config import ConfigError, Settings
from ..pipeline.stages import Batch, RunContext, stage
from . import connection

log = logging.getLogger(__name__)
BATCH_LABEL = "crypto_news_batch"  # the context variable a mapped task's map_index_template renders
MAP_INDEX_TEMPLATE = "{{ %s }}" % BATCH_LABEL


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
    if batch is not None and s.label is not None:  # the mapped task's name in the UI (map_index_template)
        from airflow.sdk import get_current_context

        context: dict = get_current_context()  # type: ignore[assignment]  # a dict; the template reads any key
        context[BATCH_LABEL] = s.label(batch)
    try:
        ctx = _context(run, feed_ids, params, run_key, interval, run_type)
        if s.provides == "run_id":  # the first stage: the lock reads the runs table, which must exist
            migrations.prepare(ctx.db_url, ctx.settings.auto_migrate)
        kwargs = {}
        if s.records_run:
            if ctx.run_id is None:  # start_run failed: its row (made before it failed, or now) records why
                ctx.run_id = _run_for_key(ctx.db_url, run_key)
            from airflow.sdk import get_current_context

            kwargs["failed_stages"] = failed_tasks(get_current_context())
        with runlock.run_lock(ctx.db_url, shared=True):
            result = s.call(ctx, batch, **kwargs)
    except ConfigError as exc:
        record_failure(exc)
        raise AirflowFailException(f"configuration error: {exc}") from None
    except Exception as exc:
        record_failure(exc)
        raise
    message = s.verdict(result) if s.verdict else None
    if message:
        if _after_recording(s) and run is not None:  # the recorded run must not say success
            _mark_failed(ctx.db_url, run, s.name, message)
        raise AirflowFailException(message)
    if s.asset_counts is not None:  # a successful recorded run: the articles Asset's event says what it added
        from .assets import record_event_counts

        record_event_counts(s.asset_counts(result))
    return s.report(result) if s.report else result


def _after_recording(s) -> bool:
    from ..pipeline.stages import STAGES

    names = [x.name for x in STAGES]
    recorder = next(i for i, x in enumerate(STAGES) if x.records_run)
    return names.index(s.name) > recorder


def _run_for_key(db_url: str, run_key: str | None) -> int:
    assert run_key is not None, "a DAG task always knows its run id"
    from ..warehouse import db, runs

    conn = db.connect(db_url)
    try:
        return runs.run_for_key(conn, run_key, "airflow")
    finally:
        conn.close()


def _mark_failed(db_url: str, run_id: int, stage_name: str, message: str) -> None:
    from ..warehouse import db, runs

    conn = db.connect(db_url)
    try:
        runs.mark_failed(conn, run_id, stage_name, message)
    finally:
        conn.close()


def plan_stage(name: str, run: int | None = None, feed_ids: list[int] | None = None,
               params: dict | None = None) -> list[Batch]:
    """The batches of mapped stage ``name``, one task each."""
    s = stage(name)
    assert s.plan is not None, f"stage {name} is not mapped"
    try:
        return s.plan(_context(run, feed_ids, params, None))
    except Exception as exc:
        record_failure(exc)
        raise


FAILED_STATES = frozenset({"failed"})  # upstream_failed and skipped are consequences, not causes


def task_label(task_id: str, map_index: int | None) -> str:
    return f"{task_id}[{map_index}]" if isinstance(map_index, int) and map_index >= 0 else task_id


def record_failure(exc: BaseException) -> None:
    """Note the current task's error on its run's row. Never raises: the task's own error matters more."""
    from .alerts import error_line

    try:
        from airflow.sdk import get_current_context

        from ..warehouse import db, runs
        from . import connection

        context = get_current_context()
        ti = context["ti"]
        label = task_label(ti.task_id, getattr(ti, "map_index", None))
        url = connection.db_url()
        conn = db.connect(url)
        try:
            why = f"configuration error: {exc}" if isinstance(exc, ConfigError) else error_line(exc) or ""
            runs.record_stage_error(conn, context["run_id"], label, db.mask_secrets(why, url))
            conn.commit()
        finally:
            conn.close()
    except Exception as err:  # noqa: BLE001 - the database may be what failed
        log.warning("could not record the task's error on the run: %s", error_line(err))


def failed_tasks(context) -> list[str]:
    """Labels of the tasks of this DAG run that ended failed so far (``sync_feeds``, ``extract_articles[3]``), in
    the DAG's task order."""
    from airflow.sdk.execution_time.task_runner import RuntimeTaskInstance

    ti = context["ti"]
    states = RuntimeTaskInstance.get_task_states(dag_id=ti.dag_id, run_ids=[ti.run_id]).get(ti.run_id, {})
    order = {task_id: i for i, task_id in enumerate(context["dag"].task_dict)}
    found = []
    for key, state in states.items():
        if str(state) not in FAILED_STATES and getattr(state, "value", None) not in FAILED_STATES:
            continue
        task_id, map_index = key, None
        if key not in order:  # a mapped task instance: "<task_id>_<map_index>"
            base, _, index = key.rpartition("_")
            if base in order and index.isdigit():
                task_id, map_index = base, int(index)
        if task_id == ti.task_id:
            continue
        found.append((order.get(task_id, len(order)), map_index or 0, task_label(task_id, map_index)))
    return [label for *_, label in sorted(found)]



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
