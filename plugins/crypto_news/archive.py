"""The raw page archive: fetched HTML kept gzip-compressed and content-addressed (sha256 of the raw bytes) in
``page_archive``, so that extraction can be re-run later (``crypto-news reextract``) without fetching again.

Identical pages (the same bytes under several URLs) are stored once. Retention: pages not seen for
``CRYPTO_NEWS_ARCHIVE_DAYS`` days are dropped, then the oldest pages until the archive fits in
``CRYPTO_NEWS_ARCHIVE_MAX_MB``; articles keep their text and metadata, only the raw page goes.
"""

from __future__ import annotations

import hashlib
import zlib

COMPRESSION = "gzip"
LEVEL = 1  # measured on article pages: 1.4 ms and 24% of the size, against 3.5 ms and 20% at level 6


def pack(body: bytes) -> tuple[str, bytes]:
    """(sha256 of the raw bytes, gzip-compressed bytes)."""
    comp = zlib.compressobj(LEVEL, zlib.DEFLATED, 31)  # wbits 31: a gzip container, readable by any gunzip
    return hashlib.sha256(body).hexdigest(), comp.compress(body) + comp.flush()


def unpack(data: bytes, limit: int = 64 * 1024 * 1024) -> bytes:
    d = zlib.decompressobj(47)  # gzip or zlib header, auto-detected
    out = d.decompress(bytes(data), limit)
    if d.unconsumed_tail:
        raise ValueError("archived page larger than the decompression limit")
    return out


def store_pages(cur, pages: list[tuple[str, bytes, str | None, int]]) -> None:
    """Insert (sha256, compressed, content_type, raw_bytes) rows; a page already stored only gets its time bumped."""
    from psycopg2 import Binary
    from psycopg2.extras import execute_values

    if not pages:
        return
    unique = {sha: (sha, Binary(data), ctype, raw, len(data)) for sha, data, ctype, raw in pages}
    execute_values(
        cur,
        """INSERT INTO page_archive (sha256, content, content_type, raw_bytes, stored_bytes) VALUES %s
           ON CONFLICT (sha256) DO UPDATE SET last_seen_at = now()""",
        list(unique.values()),
        page_size=100,
    )


def apply_retention(conn, days: int | None, max_mb: float | None) -> dict:
    """Drop archived pages older than ``days`` (by last use), then the oldest until the total is under ``max_mb``."""
    removed_age = removed_size = 0
    with conn.cursor() as cur:
        if days is not None:
            cur.execute("DELETE FROM page_archive WHERE last_seen_at < now() - make_interval(days => %s)", (days,))
            removed_age = cur.rowcount
        if max_mb is not None:
            cur.execute(
                """DELETE FROM page_archive WHERE sha256 IN (
                       SELECT sha256 FROM (
                           SELECT sha256, sum(stored_bytes) OVER (ORDER BY last_seen_at DESC, sha256) AS running
                           FROM page_archive) t
                       WHERE running > %s)""",
                (int(max_mb * 1024 * 1024),),
            )
            removed_size = cur.rowcount
        cur.execute("SELECT count(*), COALESCE(sum(stored_bytes), 0) FROM page_archive")
        pages, stored = cur.fetchone()
    conn.commit()
    return {"removed_by_age": removed_age, "removed_by_size": removed_size, "pages": pages,
            "stored_mb": round(stored / 1024 / 1024, 2)}
