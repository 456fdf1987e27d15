"""The feed's next check: from its window, within bounds, honouring the publisher's hints."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from crypto_news.feeds.pace import (
    max_age_seconds,
    next_interval,
    ttl_seconds,
    update_period_seconds,
    window_seconds,
)
from crypto_news.feeds.parse import parse_feed
from crypto_news.pipeline.stage_backfill import interval_needs_backfill

HOUR = 3600


def test_half_the_window_within_bounds():
    assert next_interval(ok=True, window_s=10 * HOUR) == (5 * HOUR, "window")
    assert next_interval(ok=True, window_s=600) == (900, "window+min")  # never more often than the poll DAG
    assert next_interval(ok=True, window_s=30 * 24 * HOUR) == (24 * HOUR, "window+max")
    assert next_interval(ok=True, window_s=None) == (HOUR, "default")


def test_publisher_hints_are_lower_bounds():
    assert next_interval(ok=True, window_s=2 * HOUR, ttl_s=3 * HOUR) == (3 * HOUR, "ttl")
    assert next_interval(ok=True, window_s=2 * HOUR, ttl_s=HOUR // 2) == (HOUR, "window")
    by_period = next_interval(ok=True, window_s=2 * HOUR, update_period_s=12 * HOUR)
    assert by_period == (12 * HOUR, "update_period")
    assert next_interval(ok=True, window_s=2 * HOUR, max_age_s=4 * HOUR) == (4 * HOUR, "cache_control")
    assert next_interval(ok=False, window_s=None, retry_after_s=7200, failures=1) == (7200, "retry_after")
    long_refusal = next_interval(ok=False, window_s=None, retry_after_s=10 * 86400, failures=1)
    assert long_refusal == (86400, "retry_after+max")


def test_failures_back_off():
    waits = [next_interval(ok=False, window_s=HOUR, failures=n)[0] for n in (1, 2, 3, 9)]
    assert waits == [900, 1800, 3600, 86400]


def test_hint_parsing():
    assert ttl_seconds("60") == 3600 and ttl_seconds("x") is None and ttl_seconds("0") is None
    assert update_period_seconds("hourly", "2") == 1800 and update_period_seconds("daily", None) == 86400
    assert update_period_seconds("sometimes", "2") is None
    assert max_age_seconds("public, max-age=600") == 600 and max_age_seconds("no-cache") is None
    assert max_age_seconds('s-maxage="120"') is None or max_age_seconds('s-maxage="120"') == 120
    assert window_seconds(datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC), 5) == 86400
    assert window_seconds(None, datetime(2026, 1, 2, tzinfo=UTC), 5) is None


def test_feed_hints_are_read_from_the_feed():
    body = b"""<?xml version="1.0"?><rss version="2.0" xmlns:sy="http://purl.org/rss/1.0/modules/syndication/">
    <channel><title>Pace</title><ttl>45</ttl><sy:updatePeriod>daily</sy:updatePeriod>
    <sy:updateFrequency>4</sy:updateFrequency><item><title>a</title><link>http://127.0.0.1/a</link></item>
    </channel></rss>"""
    parsed = parse_feed(body)
    assert (parsed.ttl_s, parsed.update_period_s) == (45 * 60, 6 * HOUR)


def test_daily_dag_fills_past_intervals_only():
    now = datetime(2026, 3, 10, 1, 0, tzinfo=UTC)
    assert interval_needs_backfill("backfill", now, now)
    assert not interval_needs_backfill("scheduled", now - timedelta(hours=1), now)
    assert interval_needs_backfill("manual", now - timedelta(days=3), now)
    assert not interval_needs_backfill("manual", None, now)
