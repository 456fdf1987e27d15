"""SQL of the feeds: the reviewed list upserted, a feed's fetch recorded with its new items (bulk-loaded), and
the feed-health view read.

Every write is batched and idempotent (unique keys + ON CONFLICT).
"""

from __future__ import annotations

import io
from datetime import datetime

from psycopg2.extras import execute_values

from ..model import FeedSpec
from ..text import LIMITS, one_line
from .db import staging_table


def sync_feeds(conn, specs: list[FeedSpec]) -> list[int]:
    """Upsert the feed list; return the ids of the enabled feeds in it (in file order). Feeds no longer in the list
    are disabled (their history stays): the list is the truth, and a removed feed must not show as stale or dead."""
    if not specs:
        return []
    with conn.cursor() as cur:
        cur.execute("UPDATE feeds SET enabled = false, updated_at = now() WHERE enabled AND url <> ALL(%s)",
                    ([s.url for s in specs],))
        execute_values(
            cur,
            """INSERT INTO feeds (url, name, site_url, enabled, obey_robots, tags) VALUES %s
               ON CONFLICT (url) DO UPDATE SET name = EXCLUDED.name, site_url = EXCLUDED.site_url,
                   enabled = EXCLUDED.enabled, obey_robots = EXCLUDED.obey_robots, tags = EXCLUDED.tags,
                   updated_at = now()
               WHERE (feeds.name, feeds.site_url, feeds.enabled, feeds.obey_robots, feeds.tags)
                     IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.site_url, EXCLUDED.enabled,
                                       EXCLUDED.obey_robots, EXCLUDED.tags)""",
            [(s.url, s.name, s.site, s.enabled, s.robots, list(s.tags)) for s in specs],
            template="(%s, %s, %s, %s, %s, %s::text[])",
        )
        cur.execute("SELECT url, feed_id FROM feeds WHERE url = ANY(%s)", ([s.url for s in specs],))
        ids = dict(cur.fetchall())
    conn.commit()
    return [ids[s.url] for s in specs if s.enabled]


def load_feeds(conn, feed_ids: list[int]) -> list[dict]:
    with conn.cursor() as cur:
        cur.execute(
            """SELECT feed_id, name, url, etag, last_modified, content_hash, obey_robots
               FROM feeds WHERE feed_id = ANY(%s) ORDER BY feed_id""",
            (list(feed_ids),),
        )
        cols = [d[0] for d in cur.description]
        return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]


_COPY_STAGING = ("COPY feed_items_staging (canonical_url, url, guid, title, summary, feed_content, author, "
                 "feed_categories, published_at, published_flag) FROM STDIN")


def _copy_text(value) -> str:
    """One value in COPY's text format."""
    if value is None:
        return "\\N"
    if isinstance(value, (list, tuple)):  # a text[] literal: every element quoted
        value = "{" + ",".join('"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"' for v in value) + "}"
    elif isinstance(value, datetime):
        value = value.isoformat()
    else:
        value = str(value)
    return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def _load_items(cur, feed_id: int, run_id: int | None, items) -> int:
    """Bulk-load a feed's items: COPY into a temporary staging table, then one INSERT ... ON CONFLICT into
    ``articles`` and one into ``article_sources``. Returns the number of new articles."""
    staging_table(cur, "feed_items_staging",
                  "canonical_url text, url text, guid text, title text, summary text, feed_content text, author text, "
                  "feed_categories text[], published_at timestamptz, published_flag text",
                  uncompressed=("summary", "feed_content"))
    buf = io.StringIO()
    for i in items:
        buf.write("\t".join(_copy_text(v) for v in (i.canonical_url, i.url, i.guid, i.title, i.summary, i.content,
                                                     i.author, i.categories, i.published_at, i.published_flag)))
        buf.write("\n")
    buf.seek(0)
    cur.copy_expert(_COPY_STAGING, buf)
    cur.execute(
        """INSERT INTO articles (canonical_url, url, guid, feed_id, first_run_id, title, summary, feed_content, author,
                                feed_categories, published_at, published_source, published_flag)
           SELECT canonical_url, url, guid, %(feed)s, %(run)s, title, summary, feed_content, author, feed_categories,
                  published_at, CASE WHEN published_at IS NOT NULL THEN 'feed' END, published_flag
           FROM feed_items_staging
           ON CONFLICT (canonical_url) DO NOTHING""",
        {"feed": feed_id, "run": run_id},
    )
    items_new = cur.rowcount
    cur.execute(
        """INSERT INTO article_sources (article_id, feed_id, guid, item_url, first_run_id)
           SELECT a.article_id, %(feed)s, s.guid, s.url, %(run)s
           FROM feed_items_staging s JOIN articles a ON a.canonical_url = s.canonical_url
           ON CONFLICT (article_id, feed_id) DO NOTHING""",
        {"feed": feed_id, "run": run_id},
    )
    return items_new


def record_fetch(conn, run_id: int | None, feed: dict, outcome) -> None:
    """Store one feed's fetch: its new items and sources, the fetch log row and the feed's cache validators, in one
    transaction, so that a crash never leaves validators that would skip items not yet stored."""
    items_new = 0
    with conn.cursor() as cur:
        if outcome.items:
            items_new = _load_items(cur, feed["feed_id"], run_id, outcome.items)
        cur.execute(
            """INSERT INTO feed_fetches (run_id, feed_id, duration_ms, status, http_status, error_kind, error, bytes,
                                         items_seen, items_new, items_skipped, parse_warning, final_url)
               VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)""",
            (run_id, feed["feed_id"], outcome.duration_ms, outcome.status, outcome.http_status, outcome.error_kind,
             one_line(outcome.error, LIMITS["error"]), outcome.bytes, len(outcome.items) + len(outcome.skipped),
             items_new, len(outcome.skipped), outcome.warning, outcome.final_url),
        )
        if outcome.status == "ok":
            cur.execute(
                """UPDATE feeds SET etag = %s, last_modified = %s, content_hash = %s,
                          title = COALESCE(%s, title), updated_at = now() WHERE feed_id = %s""",
                (outcome.etag, outcome.last_modified, outcome.content_hash, outcome.title, feed["feed_id"]),
            )
    outcome.items_new = items_new
    conn.commit()


def feed_health(conn) -> tuple[list[str], list[dict]]:
    """The ``v_feed_health`` view by feed name: (column names, rows as dicts)."""
    with conn.cursor() as cur:
        cur.execute("SELECT * FROM v_feed_health ORDER BY feed_name")
        cols = [d[0] for d in cur.description]
        return cols, [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]
