"""Run, stage and feed metrics over StatsD (UDP), as Airflow sends its own; docs/METRICS.md lists every name.

Where they go: ``CRYPTO_NEWS_STATSD_HOST`` / ``CRYPTO_NEWS_STATSD_PORT`` (default 8125); inside Airflow, when
that is not set, Airflow's own ``[metrics] statsd_on`` / ``statsd_host`` / ``statsd_port``. Names start with
``CRYPTO_NEWS_STATSD_PREFIX`` (default ``crypto_news``), apart from Airflow's ``airflow.*``. Without a host
nothing is sent and nothing is imported.

Sending is fire-and-forget UDP: a missing listener costs nothing and never fails a run. Names are built from a
fixed vocabulary plus error kinds and statuses, which are identifiers (letters, digits, underscores), so no
free text ever reaches a metric name.
"""

from __future__ import annotations

import functools
import logging
import re
import sys
import threading
import time

log = logging.getLogger("crypto_news")

DEFAULT_PORT = 8125
DEFAULT_PREFIX = "crypto_news"
_SAFE = re.compile(r"[^a-zA-Z0-9_]")

_lock = threading.Lock()
_clients: dict[tuple, object] = {}


class _Off:
    """The client when no StatsD host is configured: every call does nothing."""

    def incr(self, *a, **k):
        pass

    def gauge(self, *a, **k):
        pass

    def timing(self, *a, **k):
        pass


OFF = _Off()


def _airflow_target() -> tuple[str, int] | None:
    """Airflow's ``[metrics]`` StatsD target, when this process runs inside Airflow and it is on."""
    if "airflow" not in sys.modules:
        return None
    try:
        from airflow.configuration import conf

        if not conf.getboolean("metrics", "statsd_on", fallback=False):
            return None
        return conf.get("metrics", "statsd_host", fallback="localhost"), conf.getint("metrics", "statsd_port",
                                                                                     fallback=DEFAULT_PORT)
    except Exception:  # noqa: BLE001 - metrics must never break a run
        return None


def target(settings=None) -> tuple[str, int, str] | None:
    """(host, port, prefix) metrics go to, or None when they are off."""
    from .config import Settings

    settings = settings or Settings.from_env()
    prefix = settings.statsd_prefix or DEFAULT_PREFIX
    if settings.statsd_host:
        return settings.statsd_host, settings.statsd_port, prefix
    found = _airflow_target()
    return (*found, prefix) if found else None


def client(settings=None):
    """The StatsD client for the configured target (one per target and process), or a no-op one."""
    where = target(settings)
    if where is None:
        return OFF
    with _lock:
        c = _clients.get(where)
        if c is None:
            try:
                import statsd

                c = statsd.StatsClient(host=where[0], port=where[1], prefix=where[2])
            except Exception as exc:  # noqa: BLE001 - e.g. a host name that does not resolve
                log.warning("metrics off: StatsD target %s:%s unusable (%s)", where[0], where[1], exc)
                c = OFF
            _clients[where] = c
        return c


def name(*parts) -> str:
    return ".".join(_SAFE.sub("_", str(p)) or "_" for p in parts)


def stage_timer(stage: str):
    """Decorate a stage function: its wall time as the timer ``stage.<stage>.duration`` (ms), and
    ``stage.<stage>.failed`` counted when it raises."""

    def wrap(fn):
        @functools.wraps(fn)
        def timed(*args, **kwargs):
            started = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            except BaseException:
                client().incr(name("stage", stage, "failed"))
                raise
            finally:
                client().timing(name("stage", stage, "duration"), (time.perf_counter() - started) * 1000)

        return timed

    return wrap


def feed_outcome(status: str, error_kind: str | None) -> None:
    c = client()
    c.incr(name("feeds", "fetched", status))
    if error_kind:
        c.incr(name("feed_errors", error_kind))


def extraction(counts: dict) -> None:
    """Counts of one extraction stage or batch: articles by where their text came from, and retries."""
    c = client()
    for source in ("page", "feed_content", "feed_summary", "none"):
        if counts.get(source):
            c.incr(name("articles", "text_source", source), counts[source])
    if counts.get("retry"):
        c.incr(name("articles", "extract_retry"), counts["retry"])


def run_finished(summary: dict, duration_s: float | None) -> None:
    """A finished run: its outcome, its counts, its feeds."""
    c = client()
    if c is OFF:
        return
    c.incr(name("runs", summary.get("status") or "unknown"))
    if duration_s is not None:
        c.timing(name("run", "duration"), duration_s * 1000)
    for key, metric in (("articles_new", "articles.new"), ("articles_extracted", "articles.extracted"),
                        ("articles_classified", "articles.classified"), ("labels_written", "labels.written")):
        c.incr(metric, int(summary.get(key) or 0))
        c.gauge(name("run", key), int(summary.get(key) or 0))
    for key in ("feeds_total", "feeds_ok", "feeds_not_modified", "feeds_failed", "feeds_with_gap"):
        c.gauge(name("run", key), int(summary.get(key) or 0))
    # coverage between runs: articles the sitemap catch-up added, feeds whose fetch showed a gap
    c.incr(name("articles", "backfilled"), int(summary.get("items_backfilled") or 0))
    c.gauge(name("run", "items_backfilled"), int(summary.get("items_backfilled") or 0))
    c.gauge(name("run", "failed"), int(summary.get("status") == "failed"))
    c.gauge(name("run", "last_finished_timestamp"), int(time.time()))


def gauge(metric: str, value: float) -> None:
    client().gauge(metric, value)
