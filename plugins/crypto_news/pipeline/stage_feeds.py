"""The feed stages: ``sync_feeds`` (the reviewed list into the database) and ``fetch_feeds`` (conditional GETs,
parsing, items stored per feed in feed-id order)."""

from __future__ import annotations

import base64
import hashlib
import logging
import threading
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from datetime import timedelta
from pathlib import Path

from .. import metrics
from ..config import Settings
from ..feeds.feedlist import feed_credentials, load_feed_list
from ..feeds.pace import max_age_seconds
from ..feeds.parse import FeedParseError, parse_feed
from ..fetch import FetchError, HttpClient
from ..model import FeedOutcome
from ..progress import Progress
from ..warehouse import db
from ..warehouse import feeds as feed_rows
from .sitemaps import SitemapReader, as_items
from .workers import worker_pool

log = logging.getLogger(__name__)


@metrics.stage_timer("sync_feeds")
def sync_feeds(db_url: str, feeds_file: str | Path) -> list[int]:
    """Upsert the reviewed feed list into ``feeds``; return the ids of its enabled feeds."""
    specs = load_feed_list(feeds_file)
    conn = db.connect(db_url)
    try:
        return feed_rows.sync_feeds(conn, specs)
    finally:
        conn.close()


class _FeedParser:
    """Parses feeds in the calling thread until the stage has spent ``POOL_AFTER_S`` seconds parsing (feedparser is
    pure Python: a large run's feed stage would keep one core busy and leave the others idle), then in worker
    processes on all cores. Small runs never pay for starting the workers; a worker that dies hands its feed back
    to the caller."""

    POOL_AFTER_S = 2.0

    def __init__(self, workers: int):
        self.workers = workers
        self.spent = 0.0
        self.pool: ProcessPoolExecutor | None = None
        self.lock = threading.Lock()

    def __call__(self, body: bytes, headers: dict, url: str | None, max_items: int | None):
        pool = self._pool()
        if pool is not None:
            try:
                return pool.submit(parse_feed, body, headers, url, max_items=max_items).result()
            except BrokenProcessPool:
                log.warning("a feed-parsing worker died; parsing %s in the pipeline process", url)
        started = time.monotonic()
        try:
            return parse_feed(body, headers, url, max_items=max_items)
        finally:
            with self.lock:
                self.spent += time.monotonic() - started

    def _pool(self) -> ProcessPoolExecutor | None:
        with self.lock:
            if self.pool is None and self.workers > 1 and self.spent >= self.POOL_AFTER_S:
                self.pool = worker_pool(self.workers)
            return self.pool

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(cancel_futures=True)


def _parse_here(body: bytes, headers: dict, url: str | None, max_items: int | None):
    return parse_feed(body, headers, url, max_items=max_items)


def fetch_one_feed(client: HttpClient, feed: dict, max_items: int | None = None, parse=_parse_here,
                   credentials: tuple[str, str] | None = None) -> FeedOutcome:
    """Fetch and parse one feed with a conditional GET. Never raises: every failure becomes an error outcome.
    ``parse`` (default :func:`parse_feed` in this thread) takes the body, headers, final URL and item cap.
    ``credentials`` (user, password) go in an Authorization header only, never in a URL that is stored or shown
    (the client drops the header when a redirect leaves the feed's origin)."""
    started = time.monotonic()
    out = FeedOutcome(status="error")
    try:
        headers = {"Accept": "application/rss+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.8, "
                             "application/feed+json;q=0.7, */*;q=0.5"}
        if feed.get("etag"):
            headers["If-None-Match"] = feed["etag"]
        if feed.get("last_modified"):
            headers["If-Modified-Since"] = feed["last_modified"]
        if credentials:
            token = base64.b64encode(f"{credentials[0]}:{credentials[1]}".encode("utf-8")).decode("ascii")
            headers["Authorization"] = f"Basic {token}"
        resp = client.get(feed["url"], headers=headers)
        out.http_status, out.final_url, out.bytes = resp.status, resp.final_url, len(resp.body)
        out.max_age_s = max_age_seconds(resp.headers.get("cache-control"))
        if resp.status == 304:
            out.status = "not_modified"
            return out
        out.etag = resp.headers.get("etag")
        out.last_modified = resp.headers.get("last-modified")
        out.content_hash = hashlib.sha256(resp.body).hexdigest()
        if feed.get("content_hash") == out.content_hash:
            out.status = "unchanged"
            return out
        parsed = parse(resp.body, resp.headers, resp.final_url, max_items)
        out.status, out.items, out.skipped = "ok", parsed.items, parsed.skipped
        out.warning, out.title = parsed.warning, parsed.title
        out.ttl_s, out.update_period_s = parsed.ttl_s, parsed.update_period_s
    except FetchError as exc:
        out.error_kind, out.error, out.http_status = exc.kind, str(exc), exc.status
        out.retry_after_s = exc.retry_after_s
    except FeedParseError as exc:
        out.error_kind, out.error = exc.kind, exc.message
    except Exception as exc:  # a bug or an unforeseen input: record it against this feed, keep the others going
        log.exception("unexpected error on feed %s", feed["url"])
        out.error_kind, out.error = "internal", f"{type(exc).__name__}: {exc}"
    finally:
        out.duration_ms = int((time.monotonic() - started) * 1000)
    return out


def catch_up(reader: SitemapReader, feed: dict, outcome: FeedOutcome, settings: Settings) -> None:
    """Add to the outcome the site's sitemap pages that the feed no longer shows and that are dated after the newest
    item of the feed's previous fetches, less ``sitemap_skew_s`` for the publisher's clock. The cutoff is always a
    publisher's date, never our clock: on a feed's first fetch it is ``first_catchup_h`` before its newest item, and
    a feed never fetched with dated items has no catch-up. Never raises: problems go to ``sitemap_error_kind``."""
    if not settings.sitemap_catchup:
        return
    dated = [i.published_at for i in outcome.items if i.published_at is not None]
    if feed.get("prev_newest_at") is not None:
        since = feed["prev_newest_at"] - timedelta(seconds=settings.sitemap_skew_s)
    elif dated:
        since = max(dated) - timedelta(hours=settings.first_catchup_h)
    else:
        return
    try:
        walk = reader.walk(feed, newer_than=since)
    except Exception as exc:  # a bug or an unforeseen input: the feed's own outcome stands
        log.exception("sitemap catch-up failed for feed %s", feed["url"])
        outcome.sitemap_error_kind, outcome.sitemap_error = "sitemap_internal", f"{type(exc).__name__}: {exc}"
        return
    outcome.sitemaps_read = walk.read
    outcome.sitemap_error_kind, outcome.sitemap_error = walk.error_kind, walk.error
    outcome.backfill = as_items(walk.entries, since=since, exclude={i.canonical_url for i in outcome.items})


@metrics.stage_timer("fetch_feeds")
def fetch_feeds(db_url: str, run_id: int | None, feed_ids: list[int], settings: Settings | None = None,
                feeds_file: str | Path | None = None) -> dict:
    """Fetch the given feeds in parallel (politeness per host is the client's job) and store their items.

    Feeds whose URL in the feed list (``feeds_file``, default ``settings.feeds_file``) carries user info are
    fetched with those credentials; they are read from the list here and never reach the database.

    Outcomes are stored in feed-id order, not in the order the fetches finish: when several feeds carry the same
    article, the item of the feed with the lowest id is the one kept (its title, summary and date), whatever the
    network's timing."""
    settings = settings or Settings.from_env()
    conn = db.connect(db_url)
    counts = {"feeds": 0, "ok": 0, "not_modified": 0, "unchanged": 0, "error": 0, "items_seen": 0, "items_new": 0,
              "items_backfilled": 0, "gaps": 0}
    parser = _FeedParser(settings.extract_workers)
    try:
        feeds = feed_rows.load_feeds(conn, feed_ids)
        credentials = feed_credentials(feeds_file or settings.feeds_file) if feeds else {}
        if not feeds:
            return counts
        with HttpClient(settings) as client, ThreadPoolExecutor(min(len(feeds), settings.fetch_workers)) as pool, \
                Progress("fetch_feeds", len(feeds), "feeds") as progress:
            reader = SitemapReader(client, settings)

            def fetch(feed: dict) -> FeedOutcome:
                outcome = fetch_one_feed(client, feed, settings.max_items_per_feed, parser,
                                         credentials.get(feed["url"]))
                catch_up(reader, feed, outcome, settings)
                return outcome

            futures = {pool.submit(fetch, f): i for i, f in enumerate(feeds)}
            done: dict[int, FeedOutcome] = {}
            for fut in as_completed(futures):
                done[futures[fut]] = fut.result()
                while counts["feeds"] in done:  # store every finished outcome whose predecessors are stored
                    feed, outcome = feeds[counts["feeds"]], done.pop(counts["feeds"])
                    feed_rows.record_fetch(conn, run_id, feed, outcome, settings)
                    counts["feeds"] += 1
                    counts[outcome.status] += 1
                    counts["items_seen"] += len(outcome.items) + len(outcome.skipped)
                    counts["items_new"] += outcome.items_new
                    progress.advance()
                    metrics.feed_outcome(outcome.status, outcome.error_kind)
                    counts["items_backfilled"] += outcome.items_backfilled
                    counts["gaps"] += bool(outcome.gap)
                    if outcome.status == "error":
                        log.warning("feed %s: %s: %s", feed["name"], outcome.error_kind, outcome.error)
                    else:
                        log.info("feed %s: %s, %d items, %d new, %d from sitemaps%s", feed["name"], outcome.status,
                                 len(outcome.items), outcome.items_new, outcome.items_backfilled,
                                 ", gap" if outcome.gap else "")
                    if outcome.sitemap_error_kind:
                        log.warning("feed %s sitemaps: %s: %s", feed["name"], outcome.sitemap_error_kind,
                                    outcome.sitemap_error)
        return counts
    finally:
        parser.close()
        conn.close()
