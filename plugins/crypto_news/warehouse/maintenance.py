"""Retention for the warehouse's operational tables (the weekly DAG ``crypto_news_maintenance``).

Two rules: rows of ``feed_fetches`` (one per feed per run) older than ``CRYPTO_NEWS_FETCH_LOG_DAYS`` days
(default 180) are deleted, in bounded batches so that no long transaction holds locks on a busy table; and the raw
page archive's retention (:func:`prune_page_archive`, also ``crypto-news retention``). Articles, labels and runs are
never deleted here.
"""

from __future__ import annotations

import logging

from ..config import Settings
from . import archive, db

log = logging.getLogger(__name__)


def fetch_log_days() -> int:
    """CRYPTO_NEWS_FETCH_LOG_DAYS (default 180, at least 1): fetch-log rows older than this are deleted."""
    return Settings.from_env().fetch_log_days


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


def prune_page_archive(db_url: str, settings: Settings) -> dict:
    """The raw page archive's retention (``CRYPTO_NEWS_ARCHIVE_DAYS`` / ``CRYPTO_NEWS_ARCHIVE_MAX_MB``)."""
    conn = db.connect(db_url, application_name="crypto-news maintenance")
    try:
        return archive.apply_retention(conn, settings.archive_days, settings.archive_max_mb)
    finally:
        conn.close()
