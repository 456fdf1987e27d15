"""Metrics over StatsD: a real UDP socket on loopback receives what a command-line run sends."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest

from crypto_news import metrics
from crypto_news.config import ConfigError, Settings
from sitekit import serve_site, write_feed_list


@pytest.fixture
def listener():
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    yield sock
    sock.close()


def drain(sock) -> list[str]:
    """Every datagram already delivered (loopback UDP is delivered by the time sendto returns)."""
    sock.setblocking(False)
    lines = []
    while True:
        try:
            data = sock.recv(65536)
        except BlockingIOError:
            return lines
        lines.extend(data.decode().splitlines())


def parse(lines: list[str]) -> dict[str, list[tuple[str, str]]]:
    out: dict[str, list[tuple[str, str]]] = {}
    for line in lines:
        metric, _, rest = line.partition(":")
        value, _, kind = rest.partition("|")
        out.setdefault(metric, []).append((value, kind.split("|")[0]))
    return out


def test_a_cli_run_sends_run_stage_and_feed_metrics(migrated_db, http_server, tmp_path, listener):
    feeds = write_feed_list(tmp_path / "feeds.yml", serve_site(http_server),
                            extra=[("Gone Feed", http_server.url("/gone.rss"))])
    env = {**os.environ, "CRYPTO_NEWS_DB_URL": migrated_db, "CRYPTO_NEWS_EXTRACT_WORKERS": "1",
           "CRYPTO_NEWS_ALLOW_PRIVATE_HOSTS": "1", "CRYPTO_NEWS_HOST_DELAY_S": "0",
           "CRYPTO_NEWS_STATSD_HOST": "127.0.0.1", "CRYPTO_NEWS_STATSD_PORT": str(listener.getsockname()[1])}
    proc = subprocess.run([sys.executable, "-m", "crypto_news.cli", "run", "--json", "--feeds", str(feeds)],
                          capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    got = parse(drain(listener))
    assert all(m.startswith("crypto_news.") for m in got), sorted(got)
    assert got["crypto_news.runs.partial"] == [("1", "c")]
    assert got["crypto_news.articles.new"] == [("6", "c")]
    assert got["crypto_news.articles.text_source.page"] == [("6", "c")]
    assert got["crypto_news.feeds.fetched.ok"] == [("1", "c"), ("1", "c")]
    assert got["crypto_news.feeds.fetched.error"] == [("1", "c")]
    assert got["crypto_news.feed_errors.http_error"] == [("1", "c")]
    assert got["crypto_news.run.feeds_failed"] == [("1", "g")]
    assert got["crypto_news.run.feeds_with_gap"] == [("0", "g")]  # each feed's first fetch: no gap yet
    assert got["crypto_news.run.items_backfilled"] == [("0", "g")]
    for stage in ("sync_feeds", "fetch_feeds", "extract", "classify"):
        [(value, kind)] = got[f"crypto_news.stage.{stage}.duration"]
        assert kind == "ms" and float(value) >= 0
    assert "crypto_news.run.duration" in got


def test_no_host_no_metrics_and_the_prefix_is_checked(monkeypatch):
    monkeypatch.delenv("CRYPTO_NEWS_STATSD_HOST", raising=False)
    assert metrics.client() is metrics.OFF
    assert metrics.target(Settings.from_env({"CRYPTO_NEWS_STATSD_HOST": "127.0.0.1",
                                             "CRYPTO_NEWS_STATSD_PREFIX": "ops.news"})) == ("127.0.0.1", 8125,
                                                                                             "ops.news")
    with pytest.raises(ConfigError, match="CRYPTO_NEWS_STATSD_PREFIX"):
        Settings.from_env({"CRYPTO_NEWS_STATSD_PREFIX": "bad prefix:|"})


def test_metric_names_never_carry_free_text():
    assert metrics.name("feed_errors", "http error:|#x") == "feed_errors.http_error___x"


def test_inside_airflow_its_metrics_settings_are_used(monkeypatch, listener):
    import airflow.configuration  # noqa: F401 - a task process has Airflow loaded

    port = listener.getsockname()[1]
    monkeypatch.delenv("CRYPTO_NEWS_STATSD_HOST", raising=False)
    monkeypatch.setenv("AIRFLOW__METRICS__STATSD_ON", "True")
    monkeypatch.setenv("AIRFLOW__METRICS__STATSD_HOST", "127.0.0.1")
    monkeypatch.setenv("AIRFLOW__METRICS__STATSD_PORT", str(port))
    assert metrics.target() == ("127.0.0.1", port, "crypto_news")
    metrics.feed_outcome("error", "timeout")
    assert parse(drain(listener)) == {"crypto_news.feeds.fetched.error": [("1", "c")],
                                      "crypto_news.feed_errors.timeout": [("1", "c")]}
    monkeypatch.setenv("AIRFLOW__METRICS__STATSD_ON", "False")
    assert metrics.target() is None
