"""The extraction stage: article pages fetched by threads, extracted, fingerprinted and labelled by worker
processes, and written in batches as they complete; ``reextract_articles`` does the same from the page archive."""

from __future__ import annotations

import logging
import queue
import time
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime
from functools import partial

from .. import dedup, metrics
from ..config import Settings
from ..extract import trusted_date
from ..fetch import FetchError, HttpClient
from ..model import Obtained, PageWork
from ..progress import Progress
from ..text import LIMITS, html_to_text, http_url, no_markup, one_line, plain_text, sanitise, word_count
from ..warehouse import archive, articles, db
from .workers import worker_pool

log = logging.getLogger(__name__)

MIN_FEED_CONTENT_WORDS = 120  # feed content this long counts as the full article ("feed_content")
EXTRACT_TIMEOUT_S = 60.0  # a page whose extraction takes longer is abandoned and marked "timeout"


def _fallback(row: dict) -> tuple[str | None, str]:
    content, summary = row["feed_content"], row["summary"]
    if content and word_count(content) >= MIN_FEED_CONTENT_WORDS:
        return content, "feed_content"
    if summary or content:
        best = max((t for t in (content, summary) if t), key=len)
        return best, "feed_summary"
    return None, "none"


def process_page(body: bytes, url: str | None, content_type: str | None, packed: bool = False,
                 title: str | None = None, summary: str | None = None) -> PageWork:
    """Extract one page (raw bytes, or ``packed`` archive bytes), fingerprint and label its text. Runs in a worker,
    so that all the CPU work on a page happens once, where the text already is."""
    from ..classify import get_classifier
    from ..extract import extract_page

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


class _Extractor:
    """Runs :func:`process_page` in worker processes (CPU-bound), or inline when there is one worker."""

    def __init__(self, workers: int):
        self.pool = None
        if workers > 1:
            self.pool = worker_pool(workers)

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
    ok = work is not None and meta is not None and meta.status == "ok"
    text, source = (meta.text, "page") if ok and meta is not None else _fallback(row)
    text = no_markup(sanitise(text, LIMITS["text"]))
    feed_date = row["published_at"]
    page_date = trusted_date(getattr(meta, "published", None))
    if feed_date and not (page_date and row.get("published_source") == "sitemap"):
        published, published_source = feed_date, row.get("published_source") or "feed"
    else:  # the page's own date, before a sitemap's (a sitemap's lastmod may be a later edit)
        published, published_source = (page_date, "page") if page_date else (None, None)
    chash, shash = (work.content_hash, work.simhash) if ok and work is not None else dedup.fingerprints(text)
    tags = [t for t in (plain_text(x, LIMITS["category"]) for x in (getattr(meta, "tags", None) or [])[:50]) if t]
    return (
        res.article_id, "retry" if res.retry else "done", res.attempts, text, source, res.error_kind,
        one_line(res.error, LIMITS["error"]),
        # page metadata is whatever the page's author wrote: plain text only, and only http(s) in URL columns
        plain_text(getattr(meta, "title", None), LIMITS["title"]),
        plain_text(getattr(meta, "author", None), LIMITS["author"]),
        page_date, published, published_source,
        plain_text(getattr(meta, "sitename", None), 200), plain_text(getattr(meta, "lang", None), 20),
        html_to_text(getattr(meta, "description", None), LIMITS["summary"]), tags,
        http_url(getattr(meta, "image", None)), word_count(text), chash, shash,
        getattr(meta, "extractor", None), getattr(meta, "extractor_version", None),
        work.sha256 if work else None, http_url(res.page_url),
    )


def _write_extractions(conn, run_id: int | None, rows: list[dict], results: list[Obtained]) -> list[tuple]:
    """Store one batch: archived pages, article text, metadata and duplicate marks (one UPDATE), labels, run counts;
    one transaction."""
    values = [_article_values(r, res) for r, res in zip(rows, results, strict=True)]
    pages = [(res.work.sha256, res.work.packed, res.content_type, res.work.raw_bytes)
             for res in results if res.work is not None and res.work.packed is not None]
    labelled = [(res.article_id, res.work.classification) for res in results
                if res.work is not None and res.work.classification is not None]
    return articles.write_extractions(conn, run_id, values, pages, labelled)


def _report(completed: queue.SimpleQueue, row: dict, fut: Future) -> None:
    """Done-callback of a fetch: its future and row go to the extraction loop's queue."""
    completed.put((fut, row))


def _run_stream(conn, run_id, rows, fetch, extractor: _Extractor, settings: Settings, threads: int,
                progress: Progress | None = None) -> dict:
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
        if progress is not None:
            progress.advance()
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
                pool.submit(fetch, row).add_done_callback(partial(_report, completed, row))
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
                if progress is not None:
                    progress.tick()
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


@metrics.stage_timer("extract")
def extract_articles(db_url: str, run_id: int | None, settings: Settings | None = None,
                     article_ids: list[int] | None = None) -> dict:
    """Obtain text for pending articles (all of them, or the given ids): pages are fetched by threads, extracted
    by worker processes, and written in batches of ``extract_batch`` as they complete."""
    settings = settings or Settings.from_env()
    conn = db.connect(db_url)
    extractor = _Extractor(settings.extract_workers)
    try:
        with HttpClient(settings) as client:
            rows = articles.pending_rows(conn, article_ids, settings.extract_batch)
            with Progress("extract", articles.count_pending(conn, article_ids)) as progress:
                counts = _run_stream(conn, run_id, rows, lambda r: fetch_article(client, r, settings), extractor,
                                     settings, settings.fetch_workers, progress)
            metrics.extraction(counts)
            return counts
    finally:
        extractor.close()
        conn.close()


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
        rows = articles.archived_rows(reader, since, settings.extract_batch)
        with Progress("reextract", articles.count_archived(reader, since)) as progress:
            return _run_stream(conn, None, rows, from_archive, extractor, settings, 2, progress)
    finally:
        extractor.close()
        reader.close()
        conn.close()
