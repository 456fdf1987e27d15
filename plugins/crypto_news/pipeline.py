"""The pipeline: one function per stage, and :func:`run` composing them.

The Airflow DAG calls the stage functions one task each; the command line calls :func:`run`, which calls the same
functions in the same order. PostgreSQL is the state between stages: every stage selects its work from the
database, so a retried or re-run stage continues where the last one stopped and never loads anything twice.

Stages: ``sync_feeds`` -> ``fetch_feeds`` -> ``extract_articles`` -> ``classify_articles`` -> ``finish_run``.
"""

from __future__ import annotations

import hashlib
import logging
import multiprocessing
import queue
import threading
import time
import uuid
from collections import deque
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from psycopg2.extras import execute_values

from . import archive, db, dedup, marts, store
from .config import Settings
from .extract import trusted_date
from .feedparse import FeedItem, FeedParseError, parse_feed
from .feeds import load_feed_list
from .httpclient import FetchError, HttpClient
from .text import LIMITS, clean, one_line, word_count

log = logging.getLogger("crypto_news")

MIN_FEED_CONTENT_WORDS = 120  # feed content this long counts as the full article ("feed_content")
EXTRACT_TIMEOUT_S = 60.0  # a page whose extraction takes longer is abandoned and marked "timeout"


# --- stage 1: sync feeds ------------------------------------------------------------------------------------------------

def sync_feeds(db_url: str, feeds_file: str | Path) -> list[int]:
    """Upsert the reviewed feed list into ``feeds``; return the ids of its enabled feeds."""
    specs = load_feed_list(feeds_file)
    conn = db.connect(db_url)
    try:
        return store.sync_feeds(conn, specs)
    finally:
        conn.close()


def start_run(db_url: str, run_key: str | None = None, trigger: str = "cli") -> int:
    conn = db.connect(db_url)
    try:
        return store.start_run(conn, run_key or f"{trigger}-{uuid.uuid4()}", trigger)
    finally:
        conn.close()


# --- stage 2: fetch and parse feeds -------------------------------------------------------------------------------------

@dataclass
class FeedOutcome:
    status: str  # ok | not_modified | unchanged | error
    duration_ms: int = 0
    http_status: int | None = None
    error_kind: str | None = None
    error: str | None = None
    bytes: int = 0
    items: list[FeedItem] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    warning: str | None = None
    final_url: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    content_hash: str | None = None
    title: str | None = None
    items_new: int = 0


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
                self.pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=_worker_context())
            return self.pool

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(cancel_futures=True)


def _parse_here(body: bytes, headers: dict, url: str | None, max_items: int | None):
    return parse_feed(body, headers, url, max_items=max_items)


def fetch_one_feed(client: HttpClient, feed: dict, max_items: int | None = None, parse=_parse_here) -> FeedOutcome:
    """Fetch and parse one feed with a conditional GET. Never raises: every failure becomes an error outcome.
    ``parse`` (default :func:`parse_feed` in this thread) takes the body, headers, final URL and item cap."""
    started = time.monotonic()
    out = FeedOutcome(status="error")
    try:
        headers = {"Accept": "application/rss+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.8, "
                             "application/feed+json;q=0.7, */*;q=0.5"}
        if feed.get("etag"):
            headers["If-None-Match"] = feed["etag"]
        if feed.get("last_modified"):
            headers["If-Modified-Since"] = feed["last_modified"]
        resp = client.get(feed["url"], headers=headers)
        out.http_status, out.final_url, out.bytes = resp.status, resp.final_url, len(resp.body)
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
    except FetchError as exc:
        out.error_kind, out.error, out.http_status = exc.kind, str(exc), exc.status
    except FeedParseError as exc:
        out.error_kind, out.error = exc.kind, exc.message
    except Exception as exc:  # a bug or an unforeseen input: record it against this feed, keep the others going
        log.exception("unexpected error on feed %s", feed["url"])
        out.error_kind, out.error = "internal", f"{type(exc).__name__}: {exc}"
    finally:
        out.duration_ms = int((time.monotonic() - started) * 1000)
    return out


def fetch_feeds(db_url: str, run_id: int | None, feed_ids: list[int], settings: Settings | None = None) -> dict:
    """Fetch the given feeds in parallel (politeness per host is the client's job) and store their items.

    Outcomes are stored in feed-id order, not in the order the fetches finish: when several feeds carry the same
    article, the item of the feed with the lowest id is the one kept (its title, summary and date), whatever the
    network's timing."""
    settings = settings or Settings.from_env()
    conn = db.connect(db_url)
    counts = {"feeds": 0, "ok": 0, "not_modified": 0, "unchanged": 0, "error": 0, "items_seen": 0, "items_new": 0}
    parser = _FeedParser(settings.extract_workers)
    try:
        feeds = store.load_feeds(conn, feed_ids)
        if not feeds:
            return counts
        with HttpClient(settings) as client, ThreadPoolExecutor(min(len(feeds), settings.fetch_workers)) as pool:
            futures = {pool.submit(fetch_one_feed, client, f, settings.max_items_per_feed, parser): i
                       for i, f in enumerate(feeds)}
            done: dict[int, FeedOutcome] = {}
            for fut in as_completed(futures):
                done[futures[fut]] = fut.result()
                while counts["feeds"] in done:  # store every finished outcome whose predecessors are stored
                    feed, outcome = feeds[counts["feeds"]], done.pop(counts["feeds"])
                    store.record_fetch(conn, run_id, feed, outcome)
                    counts["feeds"] += 1
                    counts[outcome.status] += 1
                    counts["items_seen"] += len(outcome.items) + len(outcome.skipped)
                    counts["items_new"] += outcome.items_new
                    if outcome.status == "error":
                        log.warning("feed %s: %s: %s", feed["name"], outcome.error_kind, outcome.error)
                    else:
                        log.info("feed %s: %s, %d items, %d new", feed["name"], outcome.status,
                                 len(outcome.items), outcome.items_new)
        return counts
    finally:
        parser.close()
        conn.close()


# --- stage 3: extract article text --------------------------------------------------------------------------------------

_ARTICLE_COLS = """a.article_id, a.url, a.title, a.summary, a.feed_content, a.published_at, a.extract_attempts,
           COALESCE(f.obey_robots, true) AS obey_robots"""
_PENDING_SQL = f"""
    SELECT {_ARTICLE_COLS}
    FROM articles a LEFT JOIN feeds f USING (feed_id)
    WHERE a.extract_state <> 'done' AND a.article_id > %(after)s
      AND (%(ids)s::bigint[] IS NULL OR a.article_id = ANY(%(ids)s::bigint[]))
    ORDER BY a.article_id LIMIT %(limit)s
"""


def pending_article_ids(db_url: str) -> list[int]:
    conn = db.connect(db_url)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT article_id FROM articles WHERE extract_state <> 'done' ORDER BY article_id")
            return [r[0] for r in cur.fetchall()]
    finally:
        conn.close()


def _fallback(row: dict) -> tuple[str | None, str]:
    content, summary = row["feed_content"], row["summary"]
    if content and word_count(content) >= MIN_FEED_CONTENT_WORDS:
        return content, "feed_content"
    if summary or content:
        best = max((t for t in (content, summary) if t), key=len)
        return best, "feed_summary"
    return None, "none"


@dataclass
class PageWork:
    """What a worker process returns for one page: the extraction result, the page packed for the archive, and
    the text's fingerprints (all CPU work, done off the main process)."""

    page: object  # extract.PageResult
    sha256: str | None = None
    packed: bytes | None = None
    raw_bytes: int = 0
    content_hash: str | None = None
    simhash: int | None = None
    classification: object = None  # classify.Classification of the page text


def process_page(body: bytes, url: str | None, content_type: str | None, packed: bool = False,
                 title: str | None = None, summary: str | None = None) -> PageWork:
    """Extract one page (raw bytes, or ``packed`` archive bytes), fingerprint and label its text. Runs in a worker,
    so that all the CPU work on a page happens once, where the text already is."""
    from .classify import get_classifier
    from .extract import extract_page

    if packed:
        raw = archive.unpack(body)
        work = PageWork(page=extract_page(raw, url, content_type), raw_bytes=len(raw))
    else:
        work = PageWork(page=extract_page(body, url, content_type), raw_bytes=len(body))
        work.sha256, work.packed = archive.pack(body)
    if work.page.status == "ok":
        work.content_hash, work.simhash = dedup.fingerprints(work.page.text)
        work.classification = get_classifier().classify(title, summary, work.page.text)
    return work


def _worker_context(extraction: bool = True):
    """Start method of the worker pools: a fork server (the pipeline's own process, which runs threads, is never
    forked) that imports what the workers need (trafilatura only for extraction) and builds the classifier once;
    each worker is forked from it ready to work. The first pool of a process starts the fork server."""
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["crypto_news.pipeline", "crypto_news.extract", "crypto_news.warm"] if extraction
                               else ["crypto_news.warm"])
    return ctx


class _Extractor:
    """Runs :func:`process_page` in worker processes (CPU-bound), or inline when there is one worker."""

    def __init__(self, workers: int):
        self.pool = None
        if workers > 1:
            self.pool = ProcessPoolExecutor(max_workers=workers, mp_context=_worker_context())

    def submit(self, body: bytes, url: str | None, content_type: str | None, packed: bool = False,
               title: str | None = None, summary: str | None = None) -> Future:
        if self.pool is not None:
            return self.pool.submit(process_page, body, url, content_type, packed, title, summary)
        fut: Future = Future()
        try:
            fut.set_result(process_page(body, url, content_type, packed, title, summary))
        except Exception as exc:  # the inline path reports like the pool does
            fut.set_exception(exc)
        return fut

    def close(self):
        if self.pool is not None:
            self.pool.shutdown(wait=False, cancel_futures=True)


@dataclass
class Obtained:
    """The outcome of trying to get one article's page."""

    article_id: int
    attempts: int
    work: PageWork | None = None  # the page was fetched (and extracted, whatever the status)
    page_url: str | None = None
    content_type: str | None = None
    error_kind: str | None = None
    error: str | None = None
    retry: bool = False


def fetch_article(client: HttpClient, row: dict, settings: Settings) -> tuple[Obtained, bytes | None]:
    """Fetch one article's page: (outcome so far, page bytes or None). Never raises for a network failure."""
    res = Obtained(article_id=row["article_id"], attempts=row["extract_attempts"] + 1)
    try:
        resp = client.get(row["url"], headers={"Accept": "text/html,application/xhtml+xml;q=0.9,*/*;q=0.5"},
                          obey_robots=settings.obey_robots and row["obey_robots"])
        res.page_url, res.content_type = resp.final_url, resp.headers.get("content-type")
        return res, resp.body
    except FetchError as exc:
        res.error_kind, res.error = exc.kind, str(exc)
        res.retry = exc.retryable and res.attempts < settings.extract_max_attempts
    except Exception as exc:  # never lose the article over one page
        log.exception("unexpected error fetching %s", row["url"])
        res.error_kind, res.error = "internal", f"{type(exc).__name__}: {exc}"
    return res, None


def _extracted(res: Obtained, fut: Future) -> Obtained:
    """Complete an outcome with its page's extraction (or the reason there is none)."""
    try:
        res.work = fut.result()
    except Exception as exc:  # a crashed worker process, or a bug: the article keeps its feed text
        res.error_kind, res.error = "internal", f"extraction failed: {type(exc).__name__}: {exc}"
        return res
    page = res.work.page
    if page.status != "ok":
        res.error_kind, res.error = page.status, page.detail or page.status
    return res


def _article_values(row: dict, res: Obtained) -> tuple:
    work = res.work
    meta = work.page if work else None
    ok = meta is not None and meta.status == "ok"
    text, source = (meta.text, "page") if ok else _fallback(row)
    text = clean(text, LIMITS["text"])
    feed_date = row["published_at"]
    page_date = trusted_date(getattr(meta, "published", None))
    published, published_source = (feed_date, "feed") if feed_date else (page_date, "page" if page_date else None)
    chash, shash = (work.content_hash, work.simhash) if ok else dedup.fingerprints(text)
    tags = [t for t in (one_line(x, LIMITS["category"]) for x in (getattr(meta, "tags", None) or [])[:50]) if t]
    return (
        res.article_id, "retry" if res.retry else "done", res.attempts, text, source, res.error_kind,
        one_line(res.error, LIMITS["error"]),
        one_line(getattr(meta, "title", None), LIMITS["title"]),
        one_line(getattr(meta, "author", None), LIMITS["author"]),
        page_date, published, published_source,
        one_line(getattr(meta, "sitename", None), 200), one_line(getattr(meta, "lang", None), 20),
        clean(getattr(meta, "description", None), LIMITS["summary"]), tags,
        one_line(getattr(meta, "image", None), 4096), word_count(text), chash, shash,
        getattr(meta, "extractor", None), getattr(meta, "extractor_version", None),
        work.sha256 if work else None, res.page_url,
    )


_UPDATE_SQL = """
    UPDATE articles a SET extract_state = v.state, extract_attempts = v.attempts, text = v.text,
        text_source = v.source, extract_error_kind = v.error_kind, extract_error = v.error, page_title = v.page_title,
        page_author = v.page_author, page_published_at = v.page_published_at, published_at = v.published_at,
        published_source = v.published_source, sitename = v.sitename, lang = v.lang, description = v.description,
        page_tags = v.page_tags, image_url = v.image_url, word_count = v.word_count, content_hash = v.content_hash,
        simhash = v.simhash, extractor = v.extractor, extractor_version = v.extractor_version,
        page_sha256 = COALESCE(v.page_sha256, a.page_sha256), page_url = COALESCE(v.page_url, a.page_url),
        duplicate_of = v.duplicate_of, near_duplicate_of = v.near_duplicate_of, extracted_at = now(), updated_at = now()
    FROM (VALUES %s) AS v(article_id, state, attempts, text, source, error_kind, error, page_title, page_author,
                          page_published_at, published_at, published_source, sitename, lang, description, page_tags,
                          image_url, word_count, content_hash, simhash, extractor, extractor_version, page_sha256,
                          page_url, duplicate_of, near_duplicate_of)
    WHERE a.article_id = v.article_id
"""
_UPDATE_TEMPLATE = ("(%s::bigint, %s, %s::integer, %s, %s, %s, %s, %s, %s, %s::timestamptz, %s::timestamptz, %s, %s,"
                    " %s, %s, %s::text[], %s, %s::integer, %s, %s::bigint, %s, %s, %s, %s, %s::bigint, %s::bigint)")

# Copies among the articles already stored (those of the batch being written excluded: their stored fingerprints may
# be stale): the earliest earlier article with the same normalised-text hash, and the group (the earliest member) of
# earlier articles whose SimHash is within max_bits, found through the four 16-bit band indexes.
_EARLIER_COPIES_SQL = """
    SELECT v.article_id,
           (SELECT min(y.article_id) FROM articles y
            WHERE y.content_hash = v.content_hash AND y.article_id < v.article_id
              AND y.article_id <> ALL(%(ids)s::bigint[])) AS duplicate_of,
           (SELECT min(COALESCE(y.near_duplicate_of, y.article_id)) FROM articles y
            WHERE y.article_id < v.article_id AND y.simhash IS NOT NULL AND y.article_id <> ALL(%(ids)s::bigint[])
              AND ((y.simhash & 65535) = (v.simhash & 65535)
                   OR ((y.simhash >> 16) & 65535) = ((v.simhash >> 16) & 65535)
                   OR ((y.simhash >> 32) & 65535) = ((v.simhash >> 32) & 65535)
                   OR ((y.simhash >> 48) & 65535) = ((v.simhash >> 48) & 65535))
              AND bit_count((y.simhash # v.simhash)::bit(64)) <= %(max_bits)s) AS near_duplicate_of
    FROM unnest(%(ids)s::bigint[], %(hashes)s::text[], %(simhashes)s::bigint[]) AS v(article_id, content_hash, simhash)
"""


def _duplicate_marks(cur, fingerprints: list[tuple[int, str | None, int | None]]) -> dict[int, tuple]:
    """article_id -> (duplicate_of, near_duplicate_of) for a batch about to be written, from its (article_id,
    content hash, SimHash) triples: earlier copies among the stored articles (one indexed lookup each) and within
    the batch itself. The marks are written by the batch's one UPDATE, so that an article gets one new row
    version, not three (each new version is indexed again, full text included)."""
    ids = [f[0] for f in fingerprints]
    cur.execute(_EARLIER_COPIES_SQL, {"ids": ids, "hashes": [f[1] for f in fingerprints],
                                      "simhashes": [f[2] for f in fingerprints],
                                      "max_bits": dedup.NEAR_DUPLICATE_MAX_BITS})
    marks = {article_id: (dup, near) for article_id, dup, near in cur.fetchall()}
    first_with_hash: dict[str, int] = {}
    bands: list[dict[int, list[int]]] = [{}, {}, {}, {}]  # band value -> earlier articles of the batch
    simhash_of: dict[int, int] = {}
    for article_id, chash, shash in sorted(fingerprints, key=lambda f: f[0]):
        dup, near = marks.get(article_id, (None, None))
        if chash is not None:
            first = first_with_hash.setdefault(chash, article_id)
            if first != article_id:
                dup = first if dup is None else min(dup, first)
        if shash is not None:
            compared = set()
            for band in range(4):
                members = bands[band].setdefault((shash >> (16 * band)) & 0xFFFF, [])
                for other in members:
                    if other not in compared:
                        compared.add(other)
                        if dedup.hamming(shash, simhash_of[other]) <= dedup.NEAR_DUPLICATE_MAX_BITS:
                            group = marks[other][1] or other
                            near = group if near is None else min(near, group)
                members.append(article_id)
            simhash_of[article_id] = shash
        marks[article_id] = (dup, near)
    return marks


def _write_extractions(conn, run_id: int | None, rows: list[dict], results: list[Obtained]) -> list[tuple]:
    """Store one batch: archived pages, article text, metadata and duplicate marks (one UPDATE), labels, run counts;
    one transaction."""
    values = [_article_values(r, res) for r, res in zip(rows, results)]
    pages = [(res.work.sha256, res.work.packed, res.content_type, res.work.raw_bytes)
             for res in results if res.work is not None and res.work.packed is not None]
    labelled = [(res.article_id, res.work.classification) for res in results
                if res.work is not None and res.work.classification is not None]
    with conn.cursor() as cur:
        marks = _duplicate_marks(cur, [(v[0], v[18], v[19]) for v in values])
        values = [(*v, *marks[v[0]]) for v in values]
        archive.store_pages(cur, pages)
        execute_values(cur, _UPDATE_SQL, values, template=_UPDATE_TEMPLATE, page_size=len(values))
        n_labels, _ = store.store_classifications(cur, labelled)
        store.add_run_counts(conn, run_id, articles_extracted=len(values), articles_classified=len(labelled),
                             labels_written=n_labels)
    conn.commit()
    return values


def _select(conn, sql: str, params: dict) -> list[dict]:
    with conn.cursor() as cur:
        cur.execute(sql, params)
        cols = [d[0] for d in cur.description]
        rows = [dict(zip(cols, r)) for r in cur.fetchall()]
    conn.commit()
    return rows


def _stream(conn, sql: str, params: dict, page: int):
    """Rows of a keyset-paginated query (``article_id > %(after)s ... LIMIT %(limit)s``), one page at a time."""
    after = 0
    while True:
        rows = _select(conn, sql, {**params, "after": after, "limit": page})
        yield from rows
        if len(rows) < page:
            return
        after = rows[-1]["article_id"]


def _run_stream(conn, run_id, rows, fetch, extractor: _Extractor, settings: Settings, threads: int) -> dict:
    """The extraction pipeline. ``fetch(row) -> (Obtained, bytes | None)`` runs on ``threads`` I/O threads; each
    body goes to the extraction workers as soon as it arrives; finished articles are written in batches of
    ``extract_batch`` (one transaction each) while the workers carry on. At most ``window`` articles are in flight,
    which bounds memory.

    Completed futures report to one queue, so each completion costs the loop O(1), however many are in flight;
    extraction time limits are checked once a second."""
    counts = {"articles": 0, "page": 0, "feed_content": 0, "feed_summary": 0, "none": 0, "retry": 0}
    window = max(4 * threads, 2 * settings.extract_batch)
    done_rows: list[dict] = []
    done_results: list[Obtained] = []
    completed: queue.SimpleQueue = queue.SimpleQueue()
    in_flight = 0
    extracting: dict[Future, tuple[dict, Obtained]] = {}
    running_since: dict[Future, float] = {}
    next_check = time.monotonic() + 1.0

    def finish(row: dict, res: Obtained) -> None:
        nonlocal in_flight
        in_flight -= 1
        done_rows.append(row)
        done_results.append(res)
        if len(done_rows) >= settings.extract_batch:
            flush()

    def flush() -> None:
        for v in _write_extractions(conn, run_id, done_rows, done_results):
            counts["articles"] += 1
            counts[v[4]] += 1
            counts["retry"] += v[1] == "retry"
        done_rows.clear()
        done_results.clear()

    with ThreadPoolExecutor(threads) as pool:
        exhausted = False
        while True:
            while not exhausted and in_flight < window:
                row = next(rows, None)
                if row is None:
                    exhausted = True
                    break
                in_flight += 1
                pool.submit(fetch, row).add_done_callback(lambda f, row=row: completed.put((f, row)))
            if not in_flight:
                break
            try:
                fut, row = completed.get(timeout=1.0)
            except queue.Empty:  # nothing finished within a second: only the time limits are checked
                fut, row = None, None
            if row is not None:  # a fetch finished
                res, body = fut.result()
                if body is None:
                    finish(row, res)
                else:
                    job = extractor.submit(body, res.page_url, res.content_type, row.get("packed", False),
                                           row["title"], row["summary"])
                    extracting[job] = (row, res)
                    job.add_done_callback(lambda f: completed.put((f, None)))
            elif fut in extracting:  # an extraction finished (one abandoned for its time is ignored)
                row, res = extracting.pop(fut)
                running_since.pop(fut, None)
                finish(row, _extracted(res, fut))
            now = time.monotonic()
            if now >= next_check:
                next_check = now + 1.0
                for job in list(extracting):
                    if not job.running():
                        continue
                    since = running_since.setdefault(job, now)
                    if now - since > EXTRACT_TIMEOUT_S:  # abandoned: the page is marked, not lost
                        row, res = extracting.pop(job)
                        running_since.pop(job)
                        res.error_kind, res.error = "timeout", f"extraction took longer than {EXTRACT_TIMEOUT_S:.0f} s"
                        finish(row, res)
    if done_rows:
        flush()
    return counts


def extract_articles(db_url: str, run_id: int | None, settings: Settings | None = None,
                     article_ids: list[int] | None = None) -> dict:
    """Obtain text for pending articles (all of them, or the given ids): pages are fetched by threads, extracted
    by worker processes, and written in batches of ``extract_batch`` as they complete."""
    settings = settings or Settings.from_env()
    conn = db.connect(db_url)
    extractor = _Extractor(settings.extract_workers)
    try:
        with HttpClient(settings) as client:
            rows = _stream(conn, _PENDING_SQL, {"ids": article_ids}, settings.extract_batch)
            return _run_stream(conn, run_id, rows, lambda r: fetch_article(client, r, settings), extractor,
                               settings, settings.fetch_workers)
    finally:
        extractor.close()
        conn.close()


_ARCHIVED_SQL = f"""
    SELECT {_ARTICLE_COLS}, a.page_url, p.content, p.content_type
    FROM articles a JOIN page_archive p ON p.sha256 = a.page_sha256 LEFT JOIN feeds f USING (feed_id)
    WHERE a.article_id > %(after)s AND (%(since)s::timestamptz IS NULL OR a.discovered_at >= %(since)s)
    ORDER BY a.article_id LIMIT %(limit)s
"""


def reextract_articles(db_url: str, since: datetime | None = None, settings: Settings | None = None) -> dict:
    """Re-run extraction over archived pages (no network), e.g. after an extractor upgrade. Articles whose text
    changes are re-classified by the next classify stage (their extraction time is newer than their labels)."""
    settings = settings or Settings.from_env()
    conn = db.connect(db_url)
    reader = db.connect(db_url, application_name="crypto-news reextract (read)")
    extractor = _Extractor(settings.extract_workers)

    def from_archive(row: dict) -> tuple[Obtained, bytes]:
        row["packed"] = True
        res = Obtained(article_id=row["article_id"], attempts=row["extract_attempts"], page_url=row["page_url"],
                       content_type=row["content_type"])
        return res, bytes(row.pop("content"))

    try:
        rows = _stream(reader, _ARCHIVED_SQL, {"since": since}, settings.extract_batch)
        return _run_stream(conn, None, rows, from_archive, extractor, settings, 2)
    finally:
        extractor.close()
        reader.close()
        conn.close()


# --- stage 4: classify --------------------------------------------------------------------------------------------------

_TO_CLASSIFY_FROM = """
    FROM articles a LEFT JOIN article_classifications c USING (article_id)
    WHERE a.extract_state <> 'pending'
      AND (c.article_id IS NULL OR c.classifier_version <> %(version)s OR c.classified_at < a.extracted_at)
"""
_TO_CLASSIFY_SQL = f"""
    SELECT a.article_id, a.title, a.summary, CASE WHEN %(chars)s::int IS NULL THEN a.text ELSE left(a.text, %(chars)s) END
    {_TO_CLASSIFY_FROM}
    ORDER BY a.article_id
"""
_BACKLOG_SQL = f"SELECT count(*) FROM (SELECT 1 {_TO_CLASSIFY_FROM} LIMIT %(limit)s) t"


CLASSIFY_CHUNK = 250  # articles per labelling task and per write transaction when workers label a backlog


def classify_articles(db_url: str, run_id: int | None = None, batch_size: int = 2000,
                      workers: int | None = None) -> dict:
    """Label every article that has no labels from the current classifier version (new, re-extracted, or labelled
    by an older taxonomy). Streams with a server-side cursor; one transaction per batch; idempotent.

    Only the start of the body is read from the database (the classifier looks at the lede). A large backlog (a
    re-classification after a taxonomy change) is labelled by worker processes on all cores in chunks of
    ``CLASSIFY_CHUNK`` articles, each chunk written (one transaction) as soon as it is labelled while the workers go
    on with the next ones. Ends by recomputing the daily aggregate marts: this is the last stage that changes
    labels, entities or article dates, in a daily run as in a re-classification or re-extraction."""
    from .classify import classifier_version, classify_rows, get_classifier

    classifier = get_classifier()
    workers = workers or Settings.from_env().extract_workers
    reader = db.connect(db_url, application_name="crypto-news classify (read)")
    writer = db.connect(db_url, application_name="crypto-news classify (write)")
    counts = {"articles": 0, "labels": 0, "entities": 0}
    pool = None

    def write(pairs):
        with writer.cursor() as wcur:
            n_labels, n_entities = store.store_classifications(wcur, pairs)
        store.add_run_counts(writer, run_id, articles_classified=len(pairs), labels_written=n_labels)
        writer.commit()
        counts["articles"] += len(pairs)
        counts["labels"] += n_labels
        counts["entities"] += n_entities

    try:
        if workers > 1:  # a backlog (at least a full batch) is worth the workers: start them while the query runs
            with reader.cursor() as cur:
                cur.execute(_BACKLOG_SQL, {"version": classifier.version, "limit": batch_size})
                if cur.fetchone()[0] == batch_size:
                    pool = ProcessPoolExecutor(max_workers=workers, mp_context=_worker_context(extraction=False))
                    ready = [pool.submit(classifier_version) for _ in range(workers)]
            reader.commit()
        with reader.cursor(name="crypto_news_to_classify", withhold=True) as cur:
            cur.itersize = batch_size
            cur.execute(_TO_CLASSIFY_SQL, {"version": classifier.version, "chars": _body_chars(classifier)})
            reader.commit()
            if pool is not None and {f.result() for f in ready} != {classifier.version}:
                raise RuntimeError("the labelling workers loaded another taxonomy version than this process "
                                   "(was config/taxonomy.yml changed during the run?)")
            pending: deque[Future] = deque()  # labelled chunks, written in order as they come back
            while True:
                rows = cur.fetchmany(batch_size)
                if pool is None:
                    if rows:
                        write(classify_rows(rows))
                        continue
                    break
                for i in range(0, len(rows), CLASSIFY_CHUNK):
                    pending.append(pool.submit(classify_rows, rows[i:i + CLASSIFY_CHUNK]))
                # write what is done while the workers label the rest; keep enough queued to keep them busy
                while pending and (not rows or len(pending) > 2 * workers):
                    write(pending.popleft().result())
                if not rows:
                    break
        marts.refresh_aggregates(writer)
        return counts
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
        reader.close()
        writer.close()


def _body_chars(classifier) -> int | None:
    """How much of the body to read for the classifier: enough characters for its lede words, generously."""
    words = getattr(classifier, "body_max_words", 0)
    return words * 30 if words else None


# --- stage 5: record the run --------------------------------------------------------------------------------------------

def finish_run(db_url: str, run_id: int, feed_ids: list[int] | None = None, error: str | None = None,
               stage_seconds: dict | None = None) -> dict:
    conn = db.connect(db_url)
    try:
        return store.finish_run(conn, run_id, feed_ids, error, stage_seconds)
    finally:
        conn.close()


# --- the whole run ------------------------------------------------------------------------------------------------------

DB_RETRY_DELAYS_S = (1, 2, 4, 8, 15, 30)  # a restarting server usually answers again within seconds


def store_call(db_url: str, fn, *args):
    """Run one store function on its own short connection and commit."""
    conn = db.connect(db_url)
    try:
        result = fn(conn, *args)
        conn.commit()
        return result
    finally:
        conn.close()


def with_db_retries(name: str, fn, *args, **kwargs):
    """Run a stage; when the database connection fails (restart, dropped connection), run it again after a pause.
    Stages are idempotent: what a failed attempt committed is kept, what it did not is redone."""
    for attempt, delay in enumerate((*DB_RETRY_DELAYS_S, None), start=1):
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            if delay is None or not db.is_transient(exc):
                raise
            log.warning("stage %s: database unavailable (%s); attempt %d again in %d s", name,
                        " ".join(str(exc).split())[:200], attempt + 1, delay)
            time.sleep(delay)


def run(db_url: str, feeds_file: str | Path | None = None, settings: Settings | None = None, trigger: str = "cli",
        run_key: str | None = None) -> dict:
    """One whole pipeline run in-process (the command line's ``run``): the same stage functions the DAG calls.

    The run holds the run lock throughout (a second run is refused); a stage whose database connection fails is
    run again after taking the lock again. The summary also carries ``stage_seconds``, each stage's wall time."""
    settings = settings or Settings.from_env()
    feeds_file = feeds_file or settings.feeds_file
    timings: dict[str, float] = {}
    started = time.perf_counter()
    db.migrate(db_url)  # an unreachable database at the start fails at once, without retries
    timings["migrate"] = round(time.perf_counter() - started, 3)
    with db.run_lock(db_url) as lock:

        def stage(name, fn, *args, **kwargs):
            def attempt():
                lock.ensure()  # a database restart ends the lock's session: take the lock again first
                return fn(*args, **kwargs)

            began = time.perf_counter()
            try:
                return with_db_retries(name, attempt)
            finally:
                timings[name] = round(time.perf_counter() - began, 3)

        abandoned = stage("recover", store_call, db_url, store.close_abandoned_runs)
        if abandoned:
            log.warning("marked %d earlier run(s) as failed: their process ended without finishing", abandoned)
        run_id = stage("start_run", start_run, db_url, run_key, trigger)
        feed_ids: list[int] = []
        try:
            feed_ids = stage("sync_feeds", sync_feeds, db_url, feeds_file)
            stage("fetch_feeds", fetch_feeds, db_url, run_id, feed_ids, settings)
            stage("extract", extract_articles, db_url, run_id, settings)
            stage("classify", classify_articles, db_url, run_id)
        except Exception as exc:
            try:
                finish_run(db_url, run_id, feed_ids, error=db.mask_secrets(f"{type(exc).__name__}: {exc}", db_url),
                           stage_seconds=timings)
            except Exception:  # the database itself may be what failed; the original error matters more
                log.exception("could not record the failed run")
            raise
        return stage("finish_run", finish_run, db_url, run_id, feed_ids, stage_seconds=timings)


# --- planning for mapped tasks ------------------------------------------------------------------------------------------

def plan_feed_batches(db_url: str, feed_ids: list[int], max_batches: int = 16) -> list[list[int]]:
    """Split feeds into at most ``max_batches`` batches, all feeds of one host in the same batch, so that the
    per-host politeness of one HTTP client holds even when batches run on different workers."""
    from urllib.parse import urlsplit

    conn = db.connect(db_url)
    try:
        feeds = store.load_feeds(conn, feed_ids)
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
    ids = pending_article_ids(db_url)
    return [ids[i:i + size] for i in range(0, len(ids), size)]
