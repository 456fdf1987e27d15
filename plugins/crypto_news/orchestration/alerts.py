"""Failure alerts for the crypto-news DAGs: ``on_failure_callback`` logs one line and, optionally, posts a webhook.

The callback runs where the task ran, after its last try failed (retries do not alert). It

* logs ONE line: ``crypto-news task failed: dag=... task=... run=... try=N error=<Type: message> log=<url>``;
* when ``CRYPTO_NEWS_ALERT_WEBHOOK`` is set (off by default), POSTs a small JSON object to it
  (``{"event": "task_failed", "dag_id", "task_id", "run_id", "map_index", "try_number", "error", "log_url"}``)
  with a short timeout (``CRYPTO_NEWS_ALERT_TIMEOUT_S``, default 5 s), and logs whether that worked.

It never raises: an alert that fails must not hide the task's own error. The payload carries no secrets: no
connection, no configuration, and any ``user:password@`` in the error text is masked. The webhook URL itself is
never logged (it often embeds a token).
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
from urllib.parse import urlsplit

log = logging.getLogger(__name__)

WEBHOOK_ENV = "CRYPTO_NEWS_ALERT_WEBHOOK"
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
    """Airflow ``on_failure_callback``: one log line, then the optional webhook. Never raises."""
    try:
        p = failure_payload(context)
        task = p["task_id"] if p["map_index"] is None else f"{p['task_id']}[{p['map_index']}]"
        log.error("crypto-news task failed: dag=%s task=%s run=%s try=%s error=%s log=%s",
                  p["dag_id"], task, p["run_id"], p["try_number"], p["error"] or "-", p["log_url"] or "-")
    except Exception as exc:  # noqa: BLE001 - the context was not what we expected: still say something
        log.error("crypto-news task failed (alert context unreadable: %s)", error_line(exc))
        return
    url = (os.environ.get(WEBHOOK_ENV) or "").strip()
    if not url:
        return
    try:
        post_webhook(url, p, _timeout())
        log.info("crypto-news alert posted to the webhook")
    except Exception as exc:  # noqa: BLE001 - an alert must never fail the callback
        log.warning("crypto-news alert webhook failed: %s", _failure(exc, url))


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
