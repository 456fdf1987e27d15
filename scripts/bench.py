"""End-to-end benchmark: our pipeline against the extraction limit and a naive pipeline, in one run.

    .venv/bin/python scripts/bench.py [--articles 10000] [--feeds 50] [--hosts 8] [--latency-ms 50]

What it does, all in the same run and on the same pages:

1. Builds a corpus from the real pages of ``../shared/corpora/article-extraction-benchmark`` (181 pages), replicated
   under distinct URLs (each replica's bytes differ by a comment, so nothing is shared by accident) to reach
   ``--articles``.
2. Serves ``--feeds`` RSS feeds (articles spread evenly) and the pages from one asyncio HTTP server process on
   ``--hosts`` loopback addresses (127.0.0.2, 127.0.0.3, ... : distinct hosts), each response delayed by
   ``--latency-ms``; feeds carry an ETag and answer 304 to a matching If-None-Match.
3. Runs ``crypto-news run`` (a separate process: its memory is measured alone, workers included) into a fresh
   database, then again over the unchanged feeds (``incremental_ratio``), then re-labels every stored article
   (``reclassify_per_s``).
4. Measures the extraction limit: plain ``trafilatura.extract`` over the same pages already in memory, on all cores,
   once before and once after the pipeline's run (the mean is used: a shared machine's speed drifts over minutes).
5. Runs a naive pipeline on a sample: sequential fetches, extraction in one process, one INSERT and commit per row.

It prints a table and, as its last line, one JSON object. Politeness (per-host delay) is off here: it is a property
of the real sites, measured separately by scripts/bench_fetch.py. The database server: ``CRYPTO_NEWS_TEST_PG``
(default postgresql://postgres@127.0.0.1:5432/postgres); a database is created and dropped.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import hashlib
import html
import json
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "plugins"))
CORPUS = REPO.parent / "shared" / "corpora" / "article-extraction-benchmark"
ADMIN_URL = os.environ.get("CRYPTO_NEWS_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


# --- corpus ------------------------------------------------------------------------------------------------------------

def load_pages(corpus: Path) -> list[tuple[bytes, str]]:
    """(html bytes, a short summary) for each benchmark page."""
    truth = json.loads((corpus / "ground-truth.json").read_text(encoding="utf-8"))
    pages = []
    for key in sorted(truth):
        body = gzip.decompress((corpus / "html" / f"{key}.html.gz").read_bytes())
        words = truth[key]["articleBody"].split()
        pages.append((body, " ".join(words[:45])))
    return pages


def page_bytes(pages, i: int) -> bytes:
    body = pages[i % len(pages)][0]
    return b"<!-- replica %d -->\n" % i + body


def feed_xml(base_of, feed: int, items: range, pages) -> bytes:
    out = [f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Bench feed {feed}</title>'
           f"<link>{base_of(feed)}/</link><description>bench</description>"]
    for i in items:
        summary = html.escape(pages[i % len(pages)][1])
        out.append(f"<item><title>Story {i}: {html.escape(summary[:60])}</title>"
                   f"<link>{base_of(i)}/articles/{i}</link><guid isPermaLink=\"false\">bench-{i}</guid>"
                   f"<pubDate>Mon, 02 Mar 2026 {i % 24:02d}:{i % 60:02d}:00 GMT</pubDate>"
                   f"<description>{summary}</description></item>")
    out.append("</channel></rss>")
    return "".join(out).encode("utf-8")


# --- server ------------------------------------------------------------------------------------------------------------

def serve(hosts: list[str], port: int, n_articles: int, n_feeds: int, latency_s: float, ready, stop):
    """One process, one event loop, a listening socket per loopback host; responses built on demand."""
    pages = load_pages(CORPUS)
    per_feed = -(-n_articles // n_feeds)

    def base_of(i):
        return f"http://{hosts[i % len(hosts)]}:{port}"

    feeds = {}
    for f in range(n_feeds):
        body = feed_xml(base_of, f, range(f * per_feed, min(n_articles, (f + 1) * per_feed)), pages)
        feeds[f"/feeds/{f}.xml"] = (body, '"' + hashlib.sha1(body).hexdigest()[:16] + '"')

    async def handle(reader, writer):
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                path = lines[0].split(" ")[1]
                headers = {k.lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:] if ln)}
                await asyncio.sleep(latency_s)
                status, ctype, body, extra = 404, "text/plain", b"not found", ""
                if path in feeds:
                    body, etag = feeds[path]
                    if headers.get("if-none-match") == etag:
                        status, body = 304, b""
                    else:
                        status = 200
                    ctype, extra = "application/rss+xml; charset=utf-8", f"ETag: {etag}\r\n"
                elif path.startswith("/articles/"):
                    status, ctype, body = 200, "text/html; charset=utf-8", page_bytes(pages, int(path[10:]))
                elif path == "/robots.txt":
                    status, body = 200, b"User-agent: *\nAllow: /\n"
                writer.write(f"HTTP/1.1 {status} X\r\nContent-Type: {ctype}\r\nContent-Length: {len(body)}\r\n"
                             f"{extra}Connection: keep-alive\r\n\r\n".encode() + body)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, IndexError, ValueError):
            pass
        finally:
            writer.close()

    async def main():
        servers = [await asyncio.start_server(handle, h, port, backlog=512) for h in hosts]
        ready.set()
        while not stop.is_set():
            await asyncio.sleep(0.1)
        for s in servers:
            s.close()

    asyncio.run(main())


# --- measurements ------------------------------------------------------------------------------------------------------

def _extract_plain(body: bytes):
    import trafilatura

    return trafilatura.extract(body)


def extraction_limit(pages, n: int) -> float:
    """Pages per second for plain trafilatura.extract over pages in memory, on all cores. ``n`` is rounded up to
    whole passes over the corpus, so that every page weighs the same as in our run (pages differ 10× in cost)."""
    n = -(-n // len(pages)) * len(pages)
    bodies = [page_bytes(pages, i) for i in range(n)]
    with ProcessPoolExecutor(os.cpu_count()) as pool:
        list(pool.map(_extract_plain, bodies[: os.cpu_count() * 2]))  # warm the workers (imports)
        started = time.perf_counter()
        list(pool.map(_extract_plain, bodies, chunksize=4))
        return n / (time.perf_counter() - started)


def naive_pipeline(db_url: str, urls: list[str]) -> float:
    """Articles per second: one fetch at a time, extraction in this process, one INSERT and commit per row."""
    import psycopg2
    import trafilatura

    conn = psycopg2.connect(db_url)
    with conn.cursor() as cur:
        cur.execute("CREATE TABLE naive_articles (url text PRIMARY KEY, text text)")
    conn.commit()
    started = time.perf_counter()
    for url in urls:
        body = urllib.request.urlopen(url, timeout=30).read()
        text = trafilatura.extract(body)
        with conn.cursor() as cur:
            cur.execute("INSERT INTO naive_articles VALUES (%s, %s) ON CONFLICT DO NOTHING", (url, text))
        conn.commit()
    rate = len(urls) / (time.perf_counter() - started)
    conn.close()
    return rate


_CMDLINES: dict[tuple[int, str], str] = {}  # (pid, start time) -> command line, read once per process
_PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024


def _proc_table() -> dict[int, tuple[int, str, float, int]]:
    """pid -> (parent pid, command line, CPU seconds, resident KB) for every process we can read.

    One read of /proc/<pid>/stat per process (the command line is read once per process): the sampler must cost
    next to nothing, as it shares the cores with what it measures."""
    tick = os.sysconf("SC_CLK_TCK")
    table = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
            key = (int(d), fields[19].decode())  # start time: a reused pid is another process
            cmd = _CMDLINES.get(key)
            if cmd is None:
                with open(f"/proc/{d}/cmdline", "rb") as f:
                    cmd = _CMDLINES[key] = f.read().replace(b"\0", b" ").decode(errors="replace")
        except (OSError, IndexError, ValueError):
            continue
        table[int(d)] = (int(fields[1]), cmd, (int(fields[11]) + int(fields[12])) / tick, int(fields[21]) * _PAGE_KB)
    return table


def _descendants(table, root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for pid, (ppid, *_rest) in table.items():
        children.setdefault(ppid, []).append(pid)
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def run_pipeline(db_url: str, feeds_file: Path, env_extra: dict) -> tuple[dict, float, float, dict]:
    """(summary, wall seconds, peak RSS MB of the process tree, CPU seconds by part) of one `crypto-news run --json`.

    CPU seconds are read from /proc every 0.5 s: the run's main process, its extraction workers, and the database
    server's backends serving this database (a process's last sample before it exits is what counts)."""
    env = {**os.environ, **env_extra, "CRYPTO_NEWS_DB_URL": db_url}
    dbname = urlsplit(db_url).path.lstrip("/")
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "crypto_news.cli", "run", "--json", "--feeds", str(feeds_file)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
    peak = 0.0
    cpu: dict[int, tuple[str, float]] = {}
    while proc.poll() is None:
        table = _proc_table()
        tree = _descendants(table, proc.pid)
        peak = max(peak, sum(table[p][3] for p in tree if p in table) / 1024)
        for pid in tree:
            if pid in table:
                cpu[pid] = ("main" if pid == proc.pid else "workers", table[pid][2])
        for pid, (_ppid, cmd, seconds, _rss) in table.items():
            if cmd.startswith("postgres:") and f" {dbname} " in cmd:
                cpu[pid] = ("database", seconds)
        time.sleep(0.5)
    wall = time.perf_counter() - started
    out, err = proc.communicate()
    if proc.returncode != 0:
        raise SystemExit(f"pipeline run failed ({proc.returncode}): {err.strip()[-2000:]}")
    parts: dict[str, float] = {}
    for part, seconds in cpu.values():
        parts[part] = parts.get(part, 0.0) + seconds
    return json.loads(out), wall, peak, parts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--articles", type=int, default=10_000)
    ap.add_argument("--feeds", type=int, default=50)
    ap.add_argument("--hosts", type=int, default=8)
    ap.add_argument("--latency-ms", type=float, default=50.0)
    ap.add_argument("--limit-pages", type=int, default=724,
                    help="pages for the extraction-limit measurement (rounded up to whole passes over the corpus)")
    ap.add_argument("--naive-articles", type=int, default=150, help="articles for the naive pipeline sample")
    args = ap.parse_args()
    if not CORPUS.exists():
        raise SystemExit(f"benchmark corpus not found: {CORPUS}")

    import psycopg2

    pages = load_pages(CORPUS)
    hosts = [f"127.0.0.{2 + i}" for i in range(args.hosts)]
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.2", 0))
        port = s.getsockname()[1]
    ctx = multiprocessing.get_context("spawn")
    ready, stop = ctx.Event(), ctx.Event()
    server = ctx.Process(target=serve, args=(hosts, port, args.articles, args.feeds, args.latency_ms / 1000,
                                             ready, stop), daemon=True)
    server.start()
    ready.wait(60)

    from crypto_news.warehouse import scratch

    db_url = scratch.create_scratch_database(ADMIN_URL, "cn_bench")
    tmp = Path(tempfile.mkdtemp(prefix="cn-bench-"))
    feeds_file = tmp / "feeds.yml"
    feeds_file.write_text("feeds:\n" + "".join(
        f"  - name: bench {f}\n    url: http://{hosts[f % len(hosts)]}:{port}/feeds/{f}.xml\n"
        for f in range(args.feeds)))
    env = {"CRYPTO_NEWS_ALLOW_PRIVATE_HOSTS": "127.0.0.0/8", "CRYPTO_NEWS_HOST_DELAY_S": "0",
           "CRYPTO_NEWS_HOST_CONCURRENCY": os.environ.get("CRYPTO_NEWS_HOST_CONCURRENCY", "8"),
           "CRYPTO_NEWS_OBEY_ROBOTS": "1", "PYTHONPATH": str(REPO / "plugins")}
    try:
        # the limit is measured before and after our run and averaged: the machine's speed drifts over minutes
        limit_before = extraction_limit(pages, args.limit_pages)
        first, wall1, peak, cpu = run_pipeline(db_url, feeds_file, env)
        second, wall2, _, _ = run_pipeline(db_url, feeds_file, env)

        from crypto_news import pipeline

        conn = psycopg2.connect(db_url, options="-c search_path=crypto_news")
        with conn, conn.cursor() as cur:
            cur.execute("SELECT count(*), count(*) FILTER (WHERE text_source = 'page') FROM articles")
            n_articles, n_page = cur.fetchone()
            cur.execute("UPDATE article_classifications SET classifier_version = 'previous'")
        conn.close()
        started = time.perf_counter()
        relabelled = pipeline.classify_articles(db_url)["articles"]
        reclassify_per_s = relabelled / (time.perf_counter() - started)

        limit_after = extraction_limit(pages, args.limit_pages)
        limit = (limit_before + limit_after) / 2
        naive_urls = [f"http://{hosts[i % len(hosts)]}:{port}/articles/{i}" for i in range(args.naive_articles)]
        naive = naive_pipeline(db_url, naive_urls)
    finally:
        stop.set()
        server.join(10)
        scratch.drop_database(ADMIN_URL, db_url)

    ours = n_articles / wall1
    result = {
        "articles": n_articles,
        "articles_from_page": n_page,
        "feeds": args.feeds,
        "hosts": args.hosts,
        "latency_ms": args.latency_ms,
        "cores": os.cpu_count(),
        "wall_s": round(wall1, 2),
        "articles_per_s": round(ours, 2),
        "stage_seconds": first.get("stage_seconds", {}),
        "peak_rss_mb": round(peak, 1),
        "extraction_limit_per_s": round(limit, 2),
        "extraction_limit_before_after": [round(limit_before, 2), round(limit_after, 2)],
        "limit_ratio": round(ours / limit, 3),
        "naive_per_s": round(naive, 2),
        "naive_speedup": round(ours / naive, 2),
        "second_run_s": round(wall2, 2),
        "second_run_new_articles": second["articles_new"],
        "incremental_ratio": round(wall2 / wall1, 4),
        "reclassify_per_s": round(reclassify_per_s, 1),
        "cpu_ms_per_article": {k: round(1000 * v / max(1, n_articles), 1) for k, v in sorted(cpu.items())},
    }
    rows = [
        ("articles loaded (text from the page)", f"{n_articles} ({n_page})"),
        ("first run, wall", f"{wall1:.1f} s"),
        ("  per stage", ", ".join(f"{k} {v:.1f}s" for k, v in result["stage_seconds"].items())),
        ("our throughput", f"{ours:.1f} articles/s"),
        (f"extraction limit (plain trafilatura, {os.cpu_count()} cores)",
         f"{limit:.1f} pages/s (mean of {limit_before:.1f} before and {limit_after:.1f} after our run)"),
        ("limit_ratio (ours / limit)", f"{ours / limit:.3f}   target >= 0.8"),
        ("naive pipeline (sequential)", f"{naive:.1f} articles/s"),
        ("naive_speedup (ours / naive)", f"{ours / naive:.2f}   target >= 3"),
        ("second run over unchanged feeds", f"{wall2:.2f} s, {second['articles_new']} new"),
        ("incremental_ratio (second / first)", f"{wall2 / wall1:.4f}   target <= 0.05"),
        ("peak RSS of the run (all processes)", f"{peak:.0f} MB   target <= 1000 at 10k"),
        ("re-classification", f"{reclassify_per_s:.0f} articles/s   target >= 2000"),
        ("CPU per article, first run", ", ".join(f"{k} {v} ms" for k, v in result["cpu_ms_per_article"].items())
         + f"  (the limit: {1000 * os.cpu_count() / limit:.1f} ms of CPU per page)"),
    ]
    width = max(len(r[0]) for r in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
