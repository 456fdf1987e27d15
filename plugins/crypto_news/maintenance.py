"""Retention for the warehouse's operational tables (the weekly DAG ``crypto_news_maintenance``).

For now one rule: rows of ``feed_fetches`` (one per feed per run) older than ``CRYPTO_NEWS_FETCH_LOG_DAYS`` days
(default 180) are deleted, in bounded batches so that no long transaction holds locks on a busy table. Articles,
labels and runs are never deleted here.
"""

from __future__ import annotations

import logging
import os

from . import db

log = logging.getLogger("crypto_news")

DEFAULT_FETCH_LOG_DAYS = 180


def fetch_log_days(env=None) -> int:
    env = os.environ if env is None else env
    raw = (env.get("CRYPTO_NEWS_FETCH_LOG_DAYS") or "").strip()
    if not raw:
        return DEFAULT_FETCH_LOG_DAYS
    try:
        days = int(raw)
    except ValueError as exc:
        raise ValueError(f"CRYPTO_NEWS_FETCH_LOG_DAYS must be a whole number of days, got {raw!r}") from exc
    if days < 1:
        raise ValueError(f"CRYPTO_NEWS_FETCH_LOG_DAYS must be at least 1, got {raw!r}")
    return days


def prune_feed_fetches(db_url: str, days: int | None = None, batch_size: int = 10_000) -> int:
    """Delete ``feed_fetches`` rows that started more than ``days`` days ago; return how many. Idempotent."""
    days = fetch_log_days() if days is None else days
    if days < 1:
        raise ValueError("days must be at least 1")
    conn = db.connect(db_url, application_name="crypto-news maintenance")
    deleted = 0
    try:
        while True:
            with conn.cursor() as cur:
                cur.execute(
                    """DELETE FROM feed_fetches WHERE fetch_id IN (
                           SELECT fetch_id FROM feed_fetches
                           WHERE started_at < now() - make_interval(days => %s)
                           ORDER BY fetch_id LIMIT %s)""",
                    (days, batch_size),
                )
                n = cur.rowcount
            conn.commit()
            deleted += n
            if n < batch_size:
                break
        log.info("feed_fetches retention: %d row(s) older than %d day(s) deleted", deleted, days)
        return deleted
    finally:
        conn.close()
