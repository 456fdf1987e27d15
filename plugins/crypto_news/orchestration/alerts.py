"""Alerts for the crypto-news DAGs, the Airflow way.

* :class:`RunAlertNotifier` (a ``BaseNotifier``): ONE alert per DAG run, set as the DAG's ``on_failure_callback``
  (so a run with many failed mapped tasks alerts once) and as the callback of its deadline (a late or stuck run).
  It POSTs a small JSON object to the URL of the Airflow Connection ``crypto_news_alerts``
  (``{"event", "dag_id", "run_id", "reason", "failed_tasks", "failed_feeds", "run_status", "error"}``): the failed
  tasks come from Airflow, the failed feeds and the run's error from the warehouse. Without that Connection it logs
  the alert only. The POST goes through the pipeline's own HTTP client (the address guard of every fetch, a
  deadline, no redirect followed); the target's URL is never logged, only its host (the path often holds a token).
* :func:`on_failure_callback`, every task's callback: ONE log line in the task's log after its last try failed
  (``crypto-news task failed: dag=... task=... run=... try=N error=<Type: message>``); no message is sent from
  there, so a run whose fifty extraction batches fail does not send fifty alerts.

Neither ever raises: an alert that fails must not hide the run's own error. Payloads carry no connection or
configuration, and any ``user:password@`` or ``password=...`` in error text is masked.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
from urllib.parse import urlsplit

from airflow.sdk import BaseNotifier

log = logging.getLogger(__name__)

TIMEOUT_ENV = "CRYPTO_NEWS_ALERT_TIMEOUT_S"
DEFAULT_TIMEOUT_S = 5.0
MAX_ERROR_CHARS = 300
_USERINFO = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<user>[^:/@\s]*):[^@/\s]*@")
_KEYVAL = re.compile(r"(?i)\b(password|passwd|pwd|token|secret|api_key)=\S+")


def _mask(text: str) -> str:
    text = _USERINFO.sub(lambda m: f"{m['scheme']}{m['user']}:***@", text)
    return _KEYVAL.sub(lambda m: f"{m.group(1)}=***", text)


def error_line(exc: BaseException | str | None) -> str | None:
    """``Type: message`` on one line, secrets masked, at most MAX_ERROR_CHARS characters."""
    if exc is None:
        return None
    text = exc if isinstance(exc, str) else f"{type(exc).__name__}: {exc}"
    text = _mask(" ".join(str(text).split()))
    return text if len(text) <= MAX_ERROR_CHARS else text[: MAX_ERROR_CHARS - 1] + "…"


def failure_payload(context) -> dict:
    """The alert's fields, read defensively from an Airflow task context (any field may be missing)."""
    ti = context.get("ti") or context.get("task_instance")

    def attr(name):
        try:
            return getattr(ti, name, None)
        except Exception:  # noqa: BLE001 - a lazily computed attribute may fail outside a full runtime
            return None

    dag_run = context.get("dag_run")
    log_url = attr("log_url")
    map_index = attr("map_index")
    return {
        "event": "task_failed",
        "dag_id": attr("dag_id") or getattr(context.get("dag"), "dag_id", None),
        "task_id": attr("task_id") or getattr(context.get("task"), "task_id", None),
        "run_id": attr("run_id") or context.get("run_id") or getattr(dag_run, "run_id", None),
        "map_index": map_index if isinstance(map_index, int) and map_index >= 0 else None,
        "try_number": attr("try_number"),
        "error": error_line(context.get("exception")),
        "log_url": log_url if isinstance(log_url, str) else None,
    }


def post_webhook(url: str, payload: dict, timeout_s: float) -> None:
    """POST the alert through the pipeline's own HTTP client: the same address guard as every fetch
    (``CRYPTO_NEWS_ALLOW_PRIVATE_HOSTS``), a deadline, and no redirect followed (a webhook answering 302 towards
    an internal address was followed before)."""
    from dataclasses import replace

    from ..config import Settings
    from ..fetch import HttpClient

    if not url.lower().startswith(("http://", "https://")):
        raise ValueError("the alert webhook must be an http(s) URL")
    settings = replace(Settings.from_env(), timeout_s=timeout_s, connect_timeout_s=timeout_s, retries=0,
                       max_redirects=0, host_delay_s=0.0)
    with HttpClient(settings) as client:
        client.post(url, json.dumps(payload).encode("utf-8"),
                    headers={"Content-Type": "application/json", "User-Agent": "crypto-news-alerts"})


def _timeout() -> float:
    try:
        value = float(os.environ.get(TIMEOUT_ENV) or DEFAULT_TIMEOUT_S)
    except ValueError:
        return DEFAULT_TIMEOUT_S
    return min(60.0, max(0.5, value)) if math.isfinite(value) else DEFAULT_TIMEOUT_S


def _failure(exc: BaseException, url: str) -> str:
    """Why the webhook failed, naming its host only: its path and query often hold a token, and error texts quote
    the URL."""
    try:
        host = urlsplit(url).hostname or "?"
    except ValueError:
        host = "?"
    kind = getattr(exc, "kind", None) or type(exc).__name__
    status = getattr(exc, "status", None)
    return f"{kind}{f' (HTTP {status})' if status else ''} from host {host}"


def on_failure_callback(context) -> None:
    """Airflow task ``on_failure_callback``: one log line in the task's log. Never raises."""
    try:
        p = failure_payload(context)
        task = p["task_id"] if p["map_index"] is None else f"{p['task_id']}[{p['map_index']}]"
        log.error("crypto-news task failed: dag=%s task=%s run=%s try=%s error=%s",
                  p["dag_id"], task, p["run_id"], p["try_number"], p["error"] or "-")
    except Exception as exc:  # noqa: BLE001 - the context was not what we expected: still say something
        log.error("crypto-news task failed (alert context unreadable: %s)", error_line(exc))


ALERT_CONN_ID = "crypto_news_alerts"


def connection_target(conn) -> str:
    """The URL an Airflow Connection names: its host when that is a whole URL (``{"conn_type": "http", "host":
    "https://hooks.example/T0/B1"}``), else scheme (conn_type http or https), host, port and path (the URI form
    ``AIRFLOW_CONN_CRYPTO_NEWS_ALERTS=https://hooks.example/T0/B1`` puts the path in ``schema``)."""
    host = (conn.host or "").strip()
    path = (conn.schema or "").strip().lstrip("/")
    if "://" in host:
        return host + (f"/{path}" if path else "")
    scheme = conn.conn_type if conn.conn_type in ("http", "https") else "https"
    port = f":{conn.port}" if conn.port else ""
    return f"{scheme}://{host}{port}/{path}"


def _alert_url(conn_id: str) -> str | None:
    from airflow.sdk import Connection

    try:
        conn = Connection.get(conn_id)
    except Exception:  # noqa: BLE001 - not defined: alerts go to the log only
        return None
    return connection_target(conn)


def _field(obj, key):
    if obj is None:
        return None
    if isinstance(obj, dict):
        return obj.get(key)
    try:
        return getattr(obj, key, None)
    except Exception:  # noqa: BLE001
        return None


def _failed_tasks_from_airflow(dag_id: str, run_id: str) -> list[str] | None:
    """Failed tasks of a DAG run as Airflow knows them (through the execution API where this runs under a
    supervisor: the dag-processor, a task); None where that is not available."""
    try:
        from airflow.sdk.execution_time.task_runner import RuntimeTaskInstance

        from .tasks import FAILED_STATES

        states = RuntimeTaskInstance.get_task_states(dag_id=dag_id, run_ids=[run_id]).get(run_id, {})
        return sorted(k for k, v in states.items() if getattr(v, "value", v) in FAILED_STATES)
    except Exception:  # noqa: BLE001
        return None


def _warehouse_run(run_key: str) -> dict | None:
    """The run's row as the warehouse recorded it (status, error, failed stages, failed feeds)."""
    try:
        from ..warehouse import db
        from . import connection

        conn = db.connect(connection.db_url(), application_name="crypto-news alert")
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT status, error, failed_stages, summary FROM pipeline_runs WHERE run_key = %s",
                            (run_key,))
                row = cur.fetchone()
        finally:
            conn.close()
    except Exception:  # noqa: BLE001 - the database may be what failed
        return None
    if row is None:
        return None
    status, error, stages, summary = row
    feeds = [{"name": f.get("name"), "error_kind": f.get("error_kind"), "error": error_line(f.get("error"))}
             for f in (summary or {}).get("feeds", []) if f.get("status") == "error"]
    return {"status": status, "error": error, "failed_stages": list(stages or []), "failed_feeds": feeds}


def run_alert_payload(context, event: str) -> dict:
    """The alert of one DAG run, read defensively from a DAG-level callback context (or a deadline's)."""
    context = context or {}
    dag_run = context.get("dag_run")
    dag_id = _field(context.get("dag"), "dag_id") or _field(dag_run, "dag_id")
    run_id = context.get("run_id") or _field(dag_run, "run_id") or _field(dag_run, "dag_run_id")
    run = _warehouse_run(run_id) if run_id else None
    tasks = _failed_tasks_from_airflow(dag_id, run_id) if dag_id and run_id else None
    if tasks is None:
        tasks = (run or {}).get("failed_stages", [])
    deadline = context.get("deadline") or {}
    return {
        "event": event,
        "dag_id": dag_id,
        "run_id": run_id,
        "reason": error_line(context.get("reason")) if context.get("reason") else None,
        "deadline": str(_field(deadline, "deadline_time")) if _field(deadline, "deadline_time") else None,
        "failed_tasks": tasks,
        "failed_feeds": (run or {}).get("failed_feeds", []),
        "run_status": (run or {}).get("status"),
        "error": error_line((run or {}).get("error")),
    }


class RunAlertNotifier(BaseNotifier):
    """One alert per DAG run to the URL of an Airflow Connection (see the module doc). ``event`` says what
    happened: ``dag_run_failed`` (the DAG's on_failure_callback) or ``deadline_missed`` (its deadline)."""

    template_fields = ()

    def __init__(self, conn_id: str = ALERT_CONN_ID, event: str = "dag_run_failed", context=None, **_):
        super().__init__(context=context)
        self.conn_id = conn_id
        self.event = event

    def render_template_fields(self, context, jinja_env=None) -> None:
        """Nothing to render (no templated fields), and the DAG in a callback's context is not always one that
        can make a template environment (``dags test`` hands over its serialized form)."""

    def notify(self, context) -> None:
        try:
            payload = run_alert_payload(context, self.event)
            log.error("crypto-news alert: %s dag=%s run=%s failed_tasks=%s failed_feeds=%s error=%s", self.event,
                      payload["dag_id"], payload["run_id"], ",".join(payload["failed_tasks"]) or "-",
                      ",".join(f["name"] or "?" for f in payload["failed_feeds"]) or "-", payload["error"] or "-")
        except Exception as exc:  # noqa: BLE001 - still say something
            log.error("crypto-news alert: %s (context unreadable: %s)", self.event, error_line(exc))
            return
        url = _alert_url(self.conn_id)
        if url is None:
            log.info("no Airflow Connection %r: the alert is logged only", self.conn_id)
            return
        try:
            post_webhook(url, payload, _timeout())
            log.info("crypto-news alert sent to the Connection %r", self.conn_id)
        except Exception as exc:  # noqa: BLE001 - an alert must never fail the callback
            log.warning("crypto-news alert to the Connection %r failed: %s", self.conn_id, _failure(exc, url))

    async def async_notify(self, context) -> None:
        """The deadline's callback runs in the triggerer, which awaits it: the blocking POST runs in a thread."""
        import asyncio

        await asyncio.to_thread(self.notify, context)


def default_args(retries: int, max_retry_delay, execution_timeout, retry_delay=None) -> dict:
    """The task defaults every crypto-news DAG shares: owner, exponential backoff, a timeout, this alert."""
    from datetime import timedelta

    return {
        "owner": "crypto-news",
        "retries": retries,
        "retry_delay": retry_delay or timedelta(minutes=1),
        "retry_exponential_backoff": 2.0,
        "max_retry_delay": max_retry_delay,
        "execution_timeout": execution_timeout,
        "on_failure_callback": on_failure_callback,
    }


DEADLINE_ENV = "CRYPTO_NEWS_RUN_DEADLINE_MIN"


def run_alerts(default_deadline_min: int | None = None) -> dict:
    """DAG arguments for the run-level alerts: the notifier as the DAG's ``on_failure_callback`` and, when a
    deadline applies (``CRYPTO_NEWS_RUN_DEADLINE_MIN`` minutes after the run was queued, else the DAG's default;
    0 turns it off), an Airflow deadline whose miss sends a ``deadline_missed`` alert through the same notifier
    (run by the triggerer)."""
    from datetime import timedelta

    args: dict = {"on_failure_callback": [RunAlertNotifier()]}
    raw = (os.environ.get(DEADLINE_ENV) or "").strip()
    try:
        minutes = int(raw) if raw else default_deadline_min
    except ValueError:
        minutes = default_deadline_min
    if minutes:
        from airflow.sdk.definitions.callback import AsyncCallback
        from airflow.sdk.definitions.deadline import DeadlineAlert, DeadlineReference

        args["deadline"] = DeadlineAlert(
            reference=DeadlineReference.DAGRUN_QUEUED_AT, interval=timedelta(minutes=minutes),
            callback=AsyncCallback(RunAlertNotifier, kwargs={"event": "deadline_missed"}), name="run_deadline")
    return args
