"""Backfill of past days from the sites' archive sitemaps: every page a site's sitemaps date in [since, until)
becomes a pending article (``article_sources.found_by = 'backfill'``), then goes through the same extraction
and labelling as any feed item. Idempotent: articles are unique by canonical URL.

Archive sitemaps are usually an index of monthly or daily sitemaps; a child whose ``lastmod`` is before
``since`` is not read. The article keeps its own date: the sitemap's (``news:publication_date``, else
``lastmod``) until the page's metadata gives one.
"""

from __future__ import annotations

import logging
import sys
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

from ..config import Settings
from ..fetch import HttpClient
from ..warehouse import db, migrations, runlock
from ..warehouse import feeds as feed_rows
from .runner import with_db_retries
from .sitemaps import SitemapReader, Walk, as_items
from .stage_classify import classify_articles
from .stage_extract import extract_articles
from .stage_feeds import sync_feeds
from .stage_runs import finish_run, start_run

log = logging.getLogger(__name__)

# archive sitemaps read per site: ten years of monthly files, or three of daily ones
BACKFILL_MAX_FILES = 1000
# a DAG run whose data interval ended longer ago than this is filling the past
PAST_INTERVAL = timedelta(hours=30)


def backfill_sitemaps(db_url: str, run_id: int | None, feed_ids: list[int], since: datetime,
                      until: datetime | None, settings: Settings | None = None, progress=None) -> list[dict]:
    """Load the pages the feeds' sites' sitemaps date in [since, until) as pending articles; one summary per
    feed: ``{name, url, status, items_found, items_new, sitemaps_read, errors}``; ``status`` is ``ok``,
    ``partial`` (some sitemaps could not be read), ``no_archive`` (the site lists no sitemaps) or
    ``error``."""
    settings = settings or Settings.from_env()
    conn = db.connect(db_url)
    out = []
    try:
        feeds = feed_rows.load_feeds(conn, feed_ids)
        with HttpClient(settings) as client:
            reader = SitemapReader(client, settings)
            for feed in feeds:
                walk = reader.walk(feed, newer_than=since,
                                   max_files=max(BACKFILL_MAX_FILES, settings.sitemap_max_files))
                items = as_items(walk.entries, since=since, until=until)
                new = feed_rows.load_found_items(conn, feed["feed_id"], run_id, items, "backfill")
                summary = _feed_summary(feed, walk, len(items), new)
                out.append(summary)
                if progress:
                    errors = summary["errors"]
                    progress(f"backfill: {feed['name']}: {summary['status']}, {len(items)} articles in "
                             f"range, {new} new, {walk.read} sitemap(s) read"
                             + (f"; {errors[0]}" if errors else ""))
        return out
    finally:
        conn.close()


def _feed_summary(feed: dict, walk: Walk, found: int, new: int) -> dict:
    errors = [f"{walk.error_kind}: {walk.error}"] if walk.error_kind else []
    if walk.problems > 1:
        errors.append(f"{walk.problems - 1} more sitemap problem(s); see the log")
    if not walk.roots:
        status = "no_archive"
        errors.append("no_sitemaps: robots.txt of the feed's host and site lists no Sitemap and the "
                      "feed file lists none")
    elif walk.read == 0 or (walk.error_kind and not walk.entries):
        status = "error"
    else:
        status = "partial" if walk.error_kind else "ok"
    return {"name": feed["name"], "url": feed["url"], "status": status, "items_found": found,
            "items_new": new, "sitemaps_read": walk.read, "errors": errors}


def interval_needs_backfill(run_type: str | None, interval_end: datetime | None,
                            now: datetime | None = None) -> bool:
    """Whether a daily DAG run should fill its data interval from the sitemaps: an Airflow backfill, or any
    run whose interval ended a while ago (a cleared or late run). A run for the day just ended has the feeds
    and their catch-up."""
    if run_type == "backfill":
        return True
    if interval_end is None:
        return False
    now = now or datetime.now(timezone.utc)
    return interval_end < now - PAST_INTERVAL


def backfill(db_url: str, since: datetime, until: datetime | None = None,
             feeds_file: str | Path | None = None, settings: Settings | None = None, progress=None) -> dict:
    """The command line's ``backfill``: under the run lock, one run that loads the archived pages of [since,
    until) and extracts and labels them (the same stages as a daily run)."""
    settings = settings or Settings.from_env()
    feeds_file = feeds_file or settings.feeds_file
    progress = progress or (lambda line: print(line, file=sys.stderr, flush=True))
    migrations.migrate(db_url)
    with runlock.run_lock(db_url):
        run_id = start_run(db_url, f"backfill-{uuid.uuid4()}", "cli")
        feed_ids = sync_feeds(db_url, feeds_file)
        progress(f"backfill: {len(feed_ids)} feed(s), articles dated from {since.isoformat()}"
                 + (f" until {until.isoformat()}" if until else ""))
        feeds = with_db_retries("backfill", backfill_sitemaps, db_url, run_id, feed_ids, since, until,
                                settings, progress)
        pending = sum(f["items_new"] for f in feeds)
        progress(f"backfill: extracting {pending} new article(s)")
        extracted = with_db_retries("extract", extract_articles, db_url, run_id, settings)
        progress("backfill: labelling")
        classified = with_db_retries("classify", classify_articles, db_url, run_id,
                                     settings.extract_workers)
        finish_run(db_url, run_id, [])
    return {"run_id": run_id, "since": since.isoformat(), "until": until.isoformat() if until else None,
            "items_found": sum(f["items_found"] for f in feeds), "items_new": pending,
            "articles_extracted": extracted["articles"], "articles_classified": classified["articles"],
            "feeds": feeds}
