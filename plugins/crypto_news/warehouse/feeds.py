"""SQL of the feeds: the reviewed list upserted, a feed's fetch recorded with its new items (bulk-loaded), and
the feed-health view read.

Every write is batched and idempotent (unique keys + ON CONFLICT).
"""

from __future__ import annotations

import io
from datetime import datetime, timedelta, timezone

from psycopg2.extras import execute_values

from ..feeds.pace import next_interval, window_seconds
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
            """INSERT INTO feeds (url, name, site_url, enabled, obey_robots, tags, sitemaps) VALUES %s
               ON CONFLICT (url) DO UPDATE SET name = EXCLUDED.name, site_url = EXCLUDED.site_url,
                   enabled = EXCLUDED.enabled, obey_robots = EXCLUDED.obey_robots, tags = EXCLUDED.tags,
                   sitemaps = EXCLUDED.sitemaps, updated_at = now()
               WHERE (feeds.name, feeds.site_url, feeds.enabled, feeds.obey_robots, feeds.tags, feeds.sitemaps)
                     IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.site_url, EXCLUDED.enabled,
                                       EXCLUDED.obey_robots, EXCLUDED.tags, EXCLUDED.sitemaps)""",
            [(s.url, s.name, s.site, s.enabled, s.robots, list(s.tags), list(s.sitemaps)) for s in specs],
            template="(%s, %s, %s, %s, %s, %s::text[], %s::text[])",
        )
        cur.execute("SELECT url, feed_id FROM feeds WHERE url = ANY(%s)", ([s.url for s in specs],))
        ids = dict(cur.fetchall())
    conn.commit()
    return [ids[s.url] for s in specs if s.enabled]


def load_feeds(conn, feed_ids: list[int]) -> list[dict]:
    """The feeds with what a fetch needs: cache validators, site and sitemaps, and the newest item time of their
    previous fetches (``prev_newest_at``, where the sitemap catch-up starts)."""
    with conn.cursor() as cur:
        cur.execute(
            """SELECT f.feed_id, f.name, f.url, f.etag, f.last_modified, f.content_hash, f.obey_robots, f.site_url,
                      f.sitemaps,
                      (SELECT max(x.newest_item_at) FROM feed_fetches x
                       WHERE x.feed_id = f.feed_id AND x.newest_item_at IS NOT NULL) AS prev_newest_at
               FROM feeds f WHERE f.feed_id = ANY(%s) ORDER BY f.feed_id""",
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


def _load_items(cur, feed_id: int, run_id: int | None, items, found_by: str = "feed") -> int:
    """Bulk-load a feed's items: COPY into a temporary staging table, then one INSERT ... ON CONFLICT into
    ``articles`` and one into ``article_sources``. Returns the number of new articles. Items found in a sitemap
    carry the sitemap's date (``published_source`` 'sitemap', which the page's own date replaces at extraction)."""
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
    source = "feed" if found_by == "feed" else "sitemap"
    cur.execute(
        """INSERT INTO articles (canonical_url, url, guid, feed_id, first_run_id, title, summary, feed_content, author,
                                feed_categories, published_at, published_source, published_flag)
           SELECT canonical_url, url, guid, %(feed)s, %(run)s, title, summary, feed_content, author, feed_categories,
                  published_at, CASE WHEN published_at IS NOT NULL THEN %(source)s END, published_flag
           FROM feed_items_staging
           ON CONFLICT (canonical_url) DO NOTHING""",
        {"feed": feed_id, "run": run_id, "source": source},
    )
    items_new = cur.rowcount
    cur.execute(
        """INSERT INTO article_sources (article_id, feed_id, guid, item_url, first_run_id, found_by)
           SELECT a.article_id, %(feed)s, s.guid, s.url, %(run)s, %(found_by)s
           FROM feed_items_staging s JOIN articles a ON a.canonical_url = s.canonical_url
           ON CONFLICT (article_id, feed_id) DO NOTHING""",
        {"feed": feed_id, "run": run_id, "found_by": found_by},
    )
    return items_new


def load_found_items(conn, feed_id: int, run_id: int | None, items, found_by: str) -> int:
    """Store pages found in sitemaps for a feed (``found_by`` 'sitemap' or 'backfill') as pending articles, in one
    transaction; return how many were new."""
    if not items:
        return 0
    with conn.cursor() as cur:
        n = _load_items(cur, feed_id, run_id, items, found_by)
    conn.commit()
    return n


def _gap(cur, feed_id: int, outcome) -> bool | None:
    """Whether items were probably missed since the feed's previous successful fetch (see feed_fetches.gap)."""
    cur.execute(
        """SELECT count(*), max(newest_item_at) FROM feed_fetches WHERE feed_id = %s AND status = 'ok'""",
        (feed_id,),
    )
    previous_ok, prev_newest = cur.fetchone()
    if outcome.status == "error" or not previous_ok:
        return None
    if outcome.status != "ok":  # 304 or the same body: the feed shows what it showed before
        return False
    cur.execute(
        """SELECT EXISTS (SELECT 1 FROM articles a JOIN article_sources s ON s.article_id = a.article_id
                          WHERE s.feed_id = %s AND s.found_by = 'feed' AND a.canonical_url = ANY(%s))""",
        (feed_id, [i.canonical_url for i in outcome.items]),
    )
    if cur.fetchone()[0]:
        return False
    dated = [i.published_at for i in outcome.items if i.published_at is not None]
    if dated and prev_newest is not None and min(dated) <= prev_newest:
        return False  # nothing shared, but the items reach back to what was seen: a rewritten feed, not a gap
    return True


def _pace(cur, feed_id: int, outcome, settings) -> tuple[int, str]:
    """The feed's next check interval (see :mod:`crypto_news.feeds.pace`)."""
    cur.execute(
        """SELECT items_dated, oldest_item_at, newest_item_at FROM feed_fetches
           WHERE feed_id = %s AND newest_item_at IS NOT NULL ORDER BY fetch_id DESC LIMIT 1""",
        (feed_id,),
    )
    row = cur.fetchone()
    window = window_seconds(row[1], row[2], row[0]) if row else None
    failures = 0
    if outcome.status == "error":
        cur.execute(
            """SELECT count(*) FROM feed_fetches x WHERE x.feed_id = %(f)s AND x.status = 'error'
               AND x.fetch_id > coalesce((SELECT max(fetch_id) FROM feed_fetches
                                          WHERE feed_id = %(f)s AND status <> 'error'), 0)""",
            {"f": feed_id},
        )
        failures = cur.fetchone()[0]
    return next_interval(ok=outcome.status != "error", window_s=window, ttl_s=outcome.ttl_s,
                         update_period_s=outcome.update_period_s, max_age_s=outcome.max_age_s,
                         retry_after_s=outcome.retry_after_s, failures=failures,
                         min_s=settings.poll_min_s if settings else 900,
                         max_s=settings.poll_max_s if settings else 86400)


def record_fetch(conn, run_id: int | None, feed: dict, outcome, settings=None) -> None:
    """Store one feed's fetch: its new items and sources, what the sitemap catch-up found, the fetch log row (with
    the gap flag and the items' time span) and the feed's cache validators and next check, in one transaction, so
    that a crash never leaves validators that would skip items not yet stored."""
    items_new = items_backfilled = 0
    dated = [i.published_at for i in outcome.items if i.published_at is not None]
    with conn.cursor() as cur:
        gap = _gap(cur, feed["feed_id"], outcome)
        if outcome.items:
            items_new = _load_items(cur, feed["feed_id"], run_id, outcome.items)
        if outcome.backfill:
            items_backfilled = _load_items(cur, feed["feed_id"], run_id, outcome.backfill, "sitemap")
        cur.execute(
            """INSERT INTO feed_fetches (run_id, feed_id, duration_ms, status, http_status, error_kind, error, bytes,
                                         items_seen, items_new, items_skipped, parse_warning, final_url)
               VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING fetch_id""",
            (run_id, feed["feed_id"], outcome.duration_ms, outcome.status, outcome.http_status, outcome.error_kind,
             one_line(outcome.error, LIMITS["error"]), outcome.bytes, len(outcome.items) + len(outcome.skipped),
             items_new, len(outcome.skipped), outcome.warning, outcome.final_url),
        )
        fetch_id = cur.fetchone()[0]
        cur.execute(
            """UPDATE feed_fetches SET gap = %s, items_dated = %s, oldest_item_at = %s, newest_item_at = %s,
                      items_backfilled = %s, sitemaps_read = %s, sitemap_error_kind = %s, sitemap_error = %s
               WHERE fetch_id = %s""",
            (gap, len(dated), min(dated) if dated else None, max(dated) if dated else None, items_backfilled,
             outcome.sitemaps_read, outcome.sitemap_error_kind, one_line(outcome.sitemap_error, LIMITS["error"]),
             fetch_id),
        )
        interval, reason = _pace(cur, feed["feed_id"], outcome, settings)
        next_check = datetime.now(timezone.utc) + timedelta(seconds=interval)
        cur.execute("UPDATE feed_fetches SET next_check_at = %s WHERE fetch_id = %s", (next_check, fetch_id))
        cur.execute(
            """UPDATE feeds SET next_check_at = %s, check_interval_s = %s, check_reason = %s WHERE feed_id = %s""",
            (next_check, interval, reason, feed["feed_id"]),
        )
        if outcome.status == "ok":
            cur.execute(
                """UPDATE feeds SET etag = %s, last_modified = %s, content_hash = %s,
                          title = COALESCE(%s, title), updated_at = now() WHERE feed_id = %s""",
                (outcome.etag, outcome.last_modified, outcome.content_hash, outcome.title, feed["feed_id"]),
            )
    outcome.items_new, outcome.items_backfilled, outcome.gap = items_new, items_backfilled, gap
    outcome.next_check_at = next_check
    conn.commit()


def due_feeds(conn, feed_ids: list[int]) -> list[int]:
    with conn.cursor() as cur:
        cur.execute(
            """SELECT feed_id FROM feeds WHERE feed_id = ANY(%s) AND enabled
                 AND (next_check_at IS NULL OR next_check_at <= now()) ORDER BY feed_id""",
            (list(feed_ids),),
        )
        return [r[0] for r in cur.fetchall()]


def feed_health(conn) -> tuple[list[str], list[dict]]:
    """The ``v_feed_health`` view by feed name: (column names, rows as dicts)."""
    with conn.cursor() as cur:
        cur.execute("SELECT * FROM v_feed_health ORDER BY feed_name")
        cols = [d[0] for d in cur.description]
        return cols, [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]
