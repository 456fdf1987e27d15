"""How a DAG task reports its outcome, so that the run's row tells the truth whatever step failed.

* :func:`reported` wraps a task's callable: when it raises, the error is noted on the run's row at once
  (``stage_errors``, under the task's label such as ``extract_articles[3]``), before Airflow learns of the failure;
  a :class:`~crypto_news.config.ConfigError` becomes ``AirflowFailException`` (no retry: a retry cannot fix it).
* :func:`failed_tasks` asks Airflow which tasks of the current DAG run ended failed; the run's last step passes them
  to ``finish_run``, which records the run as failed with each task's own error.

The error is written from inside the task rather than by an ``on_failure_callback`` because Airflow reports the
task's final state before it runs the callbacks: the run's last step could start before the callback had written.
"""

from __future__ import annotations

import functools
import logging

from ..config import ConfigError

log = logging.getLogger("crypto_news")

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


def reported(fn):
    """Decorate a DAG task's callable (under ``@task``): record its error on the run's row when it raises, and fail
    configuration errors without retry, with the reason as the task's error."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except ConfigError as exc:
            record_failure(exc)
            from airflow.sdk.exceptions import AirflowFailException

            raise AirflowFailException(f"configuration error: {exc}") from None
        except Exception as exc:
            record_failure(exc)
            raise

    return wrapper


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
