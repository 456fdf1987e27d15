"""Planning for the DAG's mapped tasks: feeds in batches by host, pending articles in batches."""

from __future__ import annotations

from urllib.parse import urlsplit

from ..config import Settings
from ..warehouse import articles, db
from ..warehouse import feeds as feed_rows


def plan_feed_batches(db_url: str, feed_ids: list[int], max_batches: int = 16) -> list[list[int]]:
    """Split feeds into at most ``max_batches`` batches, all feeds of one host in the same batch, so that the
    per-host politeness of one HTTP client holds even when batches run on different workers."""
    conn = db.connect(db_url)
    try:
        feeds = feed_rows.load_feeds(conn, feed_ids)
    finally:
        conn.close()
    by_host: dict[str, list[int]] = {}
    for f in feeds:
        by_host.setdefault((urlsplit(f["url"]).hostname or "").lower(), []).append(f["feed_id"])
    batches: list[list[int]] = [[] for _ in range(min(max_batches, len(by_host)) or 1)]
    for ids in sorted(by_host.values(), key=len, reverse=True):
        min(batches, key=len).extend(ids)
    return [b for b in batches if b]


def plan_extraction_batches(db_url: str, batch_size: int | None = None) -> list[list[int]]:
    """Pending article ids in batches of ``CRYPTO_NEWS_EXTRACT_BATCH`` (one mapped extraction task each)."""
    size = batch_size or Settings.from_env().extract_batch
    conn = db.connect(db_url)
    try:
        ids = articles.pending_article_ids(conn)
    finally:
        conn.close()
    return [ids[i:i + size] for i in range(0, len(ids), size)]


def due_feed_ids(db_url: str, feed_ids: list[int]) -> list[int]:
    """The feeds among ``feed_ids`` whose next check time has come (or that were never checked), in id order:
    what the poll DAG fetches."""
    conn = db.connect(db_url)
    try:
        return feed_rows.due_feeds(conn, feed_ids)
    finally:
        conn.close()
