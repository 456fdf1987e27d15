"""Faults done for real: the database restarted mid-load, the run process killed mid-extraction, the network
failing in the middle of a body, and two runs started at once.

After each fault the tables must equal those of an undisturbed run on a fresh database: the same canonical URLs,
the same text sources and labels, nothing twice and nothing lost (ids and timestamps are ignored).
"""

from __future__ import annotations

import gzip
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import psycopg2
import pytest

from conftest import query, temporary_database
from crypto_news import pipeline
from crypto_news.config import Settings
from sitekit import STORIES, serve_site, write_feed_list

FIXTURES = Path(__file__).resolve().parent / "fixtures"
PG_BIN = Path(os.environ.get("CRYPTO_NEWS_PG_BINDIR") or "/usr/lib/postgresql/15/bin")
N_ARTICLES = 36

# What a CLI run sees (and the reference run in-process, through Settings.from_env of the same values).
RUN_ENV = {
    "CRYPTO_NEWS_ALLOW_PRIVATE_HOSTS": "1",
    "CRYPTO_NEWS_HOST_DELAY_S": "0",
    "CRYPTO_NEWS_HOST_CONCURRENCY": "2",
    "CRYPTO_NEWS_RETRIES": "0",
    "CRYPTO_NEWS_TIMEOUT_S": "10",
    "CRYPTO_NEWS_EXTRACT_WORKERS": "1",
    "CRYPTO_NEWS_EXTRACT_BATCH": "4",
}


# ------------------------------------------------------------------------------------------------ helpers


class GeneratedSite:
    """A feed of ``n`` articles, each a distinct page (a fixture story plus a numbered sentence), served with a
    per-page latency so that a run takes a few seconds; ``gate`` (when set) holds every page until released."""

    def __init__(self, server, n: int = N_ARTICLES, latency: float = 0.0):
        self.server, self.n, self.latency = server, n, latency
        self.gate: threading.Event | None = None
        self.pages = {s: (FIXTURES / "site" / f"{s}.html").read_text(encoding="utf-8") for s in STORIES}
        base = server.url("").rstrip("/")
        items = []
        for i in range(n):
            story = STORIES[i % len(STORIES)]
            items.append(
                f"<item><title>Report {i}: {story.replace('-', ' ')}</title><link>{base}/gen/{i}?utm_source=rss</link>"
                f"<guid isPermaLink=\"false\">gen-{i}</guid><pubDate>Mon, 02 Mar 2026 10:{i % 60:02d}:00 GMT</pubDate>"
                f"<description>Short summary of report {i}.</description></item>"
            )
        feed = ('<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>Generated Wire</title>'
                f"<link>{base}/</link>{''.join(items)}</channel></rss>").encode()
        self.feed_url = server.add("/gen/feed.rss", feed, headers={"Content-Type": "application/rss+xml"})
        server.add("/robots.txt", b"User-agent: *\nDisallow: /private/\n", headers={"Content-Type": "text/plain"})
        for i in range(n):
            server.add(f"/gen/{i}", handler=self._page(i))

    def _page(self, i: int):
        story = STORIES[i % len(STORIES)]
        html = self.pages[story].replace(
            '<div class="post-content">',
            f'<div class="post-content">\n<p>This is report number {i} in the generated series of stories.</p>', 1)
        body = html.encode("utf-8")

        def handle(req):
            if self.gate is not None:
                self.gate.wait(60)
            if self.latency:
                time.sleep(self.latency)
            req.send_response(200)
            req.send_header("Content-Type", "text/html; charset=utf-8")
            req.send_header("Content-Length", str(len(body)))
            req.end_headers()
            try:
                req.wfile.write(body)
            except OSError:
                pass

        return handle


def cli(args, env_extra, **popen):
    env = {**os.environ, **RUN_ENV, **env_extra}
    return subprocess.Popen([sys.executable, "-m", "crypto_news.cli", *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **popen)



def extraction_progress(url) -> tuple[int, int] | None:
    """(articles done, articles total), or None while the database or the tables are not there yet."""
    try:
        return query(url, "SELECT count(*) FILTER (WHERE extract_state = 'done'), count(*) FROM articles")[0]
    except psycopg2.Error:
        return None


def wait_for(predicate, timeout: float, what: str, proc=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"the run ended before {what}: exit {proc.returncode}\n{out}\n{err}")
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


def snapshot(url) -> dict:
    """Everything a run produced, without ids or timestamps."""
    return {
        "articles": query(url, """
            SELECT a.canonical_url, a.url, a.guid, a.title, a.extract_state, a.text_source, a.extract_error_kind,
                   a.word_count, md5(a.text), a.page_title, d.canonical_url
            FROM articles a LEFT JOIN articles d ON d.article_id = a.duplicate_of ORDER BY 1"""),
        "labels": query(url, """SELECT a.canonical_url, l.label, l.classifier_version FROM article_labels l
                                JOIN articles a USING (article_id) ORDER BY 1, 2"""),
        "entities": query(url, """SELECT a.canonical_url, e.kind, e.entity_id, e.mentions FROM article_entities e
                                  JOIN articles a USING (article_id) ORDER BY 1, 2, 3"""),
        "sources": query(url, """SELECT a.canonical_url, f.url FROM article_sources s JOIN articles a USING (article_id)
                                 JOIN feeds f ON f.feed_id = s.feed_id ORDER BY 1, 2"""),
        "classified": query(url, "SELECT count(*), count(DISTINCT article_id) FROM article_classifications"),
        "feeds": query(url, "SELECT url, name, etag IS NOT NULL FROM feeds ORDER BY 1"),
    }


def assert_same_tables(got: dict, want: dict, n: int):
    assert len(got["articles"]) == n
    assert len({a[0] for a in got["articles"]}) == n  # no canonical URL twice
    assert {a[4] for a in got["articles"]} == {"done"}
    assert {a[5] for a in got["articles"]} == {"page"}
    for key in want:
        assert got[key] == want[key], key


def reference_snapshot(site: GeneratedSite, feeds_file: Path) -> dict:
    """The same feeds loaded by an undisturbed run on a fresh database."""
    latency, site.latency = site.latency, 0.0
    try:
        with temporary_database() as url:
            pipeline.run(url, feeds_file, Settings.from_env(RUN_ENV))
            return snapshot(url)
    finally:
        site.latency = latency


# ------------------------------------------------------------------------------------------------ a throwaway cluster


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    """A PostgreSQL cluster of our own (initdb + pg_ctl, as the postgres OS user when we are root)."""

    def __init__(self):
        self.root = Path(tempfile.mkdtemp(prefix="cn-faults-pg-", dir="/var/tmp"))
        self.data, self.sock, self.log = self.root / "data", self.root / "sock", self.root / "server.log"
        self.sock.mkdir()
        self.port = _free_port()
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres")
            shutil.chown(self.sock, "postgres")
        self.opts = f"-p {self.port} -k {self.sock} -c listen_addresses=127.0.0.1"
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _pg(self, *args, timeout=60):
        cmd = [str(PG_BIN / args[0]), *args[1:]]
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        assert proc.returncode == 0, f"{args[0]} failed: {proc.stdout}\n{proc.stderr}"

    def start(self):
        self._pg("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8")
        self._pg("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", self.opts, "-w", "-t", "60", "start")

    def restart(self):
        self._pg("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", self.opts, "-m", "fast", "-w", "-t", "60",
                 "restart")

    def remove(self):
        if (self.data / "postmaster.pid").exists():
            try:
                self._pg("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
            except AssertionError:
                pass
        shutil.rmtree(self.root, ignore_errors=True)


@contextmanager
def throwaway_cluster():
    if not (PG_BIN / "initdb").exists():
        pytest.skip(f"PostgreSQL server binaries not found in {PG_BIN} (set CRYPTO_NEWS_PG_BINDIR)")
    cluster = Cluster()
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.remove()


@contextmanager
def running(proc):
    """Kill the process group of ``proc`` if the test leaves before it ended."""
    try:
        yield proc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


# ------------------------------------------------------------------------------------------------ the database restarts


def test_database_restart_mid_extraction_run_finishes_with_the_same_tables(http_server, tmp_path):
    site = GeneratedSite(http_server, latency=0.15)
    feeds = write_feed_list(tmp_path / "feeds.yml", {"Generated Wire": site.feed_url})
    with throwaway_cluster() as cluster:
        proc = cli(["-v", "run", "--json", "--feeds", str(feeds)], {"CRYPTO_NEWS_DB_URL": cluster.url},
                   start_new_session=True)
        with running(proc):
            done, total = wait_for(lambda: (p := extraction_progress(cluster.url)) and p[0] > 0 and p, 90,
                                   "the first extraction batch", proc)
            assert done < total == N_ARTICLES, "the restart must happen in the middle of the extraction"
            cluster.restart()
            out, err = proc.communicate(timeout=180)
        assert proc.returncode == 0, err
        assert "stage extract_articles: database unavailable" in err  # the stage was retried, not the run failed
        got = snapshot(cluster.url)
        runs = query(cluster.url, "SELECT status, articles_new, articles_extracted, articles_classified "
                                  "FROM pipeline_runs")
    assert runs == [("success", N_ARTICLES, N_ARTICLES, N_ARTICLES)]  # each article counted once
    assert_same_tables(got, reference_snapshot(site, feeds), N_ARTICLES)


# ------------------------------------------------------------------------------------------------ the run is killed


def test_run_killed_mid_extraction_next_run_finishes(migrated_db, http_server, tmp_path):
    site = GeneratedSite(http_server, latency=0.15)
    feeds = write_feed_list(tmp_path / "feeds.yml", {"Generated Wire": site.feed_url})
    proc = cli(["run", "--json", "--feeds", str(feeds)], {"CRYPTO_NEWS_DB_URL": migrated_db}, start_new_session=True)
    with running(proc):
        done, total = wait_for(lambda: (p := extraction_progress(migrated_db)) and p[0] > 0 and p, 90,
                               "the first extraction batch", proc)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
    assert proc.returncode == -signal.SIGKILL
    done_at_kill = extraction_progress(migrated_db)[0]
    assert 0 < done_at_kill < N_ARTICLES
    assert query(migrated_db, "SELECT status, finished_at FROM pipeline_runs") == [("running", None)]
    # The killed session's row lock is released as soon as the server sees the socket closed.
    wait_for(lambda: not query(migrated_db, "SELECT 1 FROM pg_stat_activity WHERE datname = current_database() "
                                            "AND application_name = 'crypto-news run lock'"),
             10, "the run lock of the killed run to go")

    site.latency = 0.0
    second = cli(["run", "--json", "--feeds", str(feeds)], {"CRYPTO_NEWS_DB_URL": migrated_db})
    out, err = second.communicate(timeout=180)
    assert second.returncode == 0, err
    import json

    summary = json.loads(out)
    assert summary["status"] == "success"
    assert summary["articles_new"] == 0  # the killed run had stored every item already
    assert summary["articles_extracted"] == N_ARTICLES - done_at_kill  # only the rest was fetched again
    hits = [r.hits for p, r in http_server.routes.items() if p.startswith("/gen/") and p[5:].isdigit()]
    assert sum(hits) <= N_ARTICLES + 2 * int(RUN_ENV["CRYPTO_NEWS_HOST_CONCURRENCY"]) + done_at_kill
    # The killed run left its row "running"; the next run, holding the lock, marks it failed as abandoned.
    assert query(migrated_db, "SELECT status, error FROM pipeline_runs ORDER BY run_id") == [
        ("failed", "abandoned: the run process ended without finishing"), ("success", None)]
    assert_same_tables(snapshot(migrated_db), reference_snapshot(site, feeds), N_ARTICLES)


# ------------------------------------------------------------------------------------------------ the network fails


FAULTS = ("reset", "gzip", "hang")
HALF_MARKER = "HALFWAYMARKER"


class FaultySite:
    """Feeds and pages that fail for real while ``broken`` is set: the connection reset mid-body, a gzip stream cut
    in half (sent with a Content-Length that matches the cut), or a server that accepts and never answers."""

    def __init__(self, server):
        self.server = server
        self.broken = True
        self.release = threading.Event()
        base = server.url("").rstrip("/")
        page = (FIXTURES / "site" / "hashrate-record.html").read_text(encoding="utf-8")
        self.pages = {}
        for kind in FAULTS:
            html = page.replace('<div class="post-content">',
                                f'<div class="post-content">\n<p>{HALF_MARKER} {kind}: the first half of the page '
                                f'is here.</p>', 1)
            self.pages[kind] = html.encode("utf-8")
            server.add(f"/faulty/{kind}", handler=self._handler(self.pages[kind], "text/html; charset=utf-8"))
            feed = (f'<?xml version="1.0"?><rss version="2.0"><channel><title>Faulty {kind}</title>'
                    f"<item><title>Feed item behind a {kind} fault</title><link>{base}/faulty-item/{kind}</link>"
                    "<description>Feed summary.</description></item></channel></rss>").encode()
            server.add(f"/faulty-item/{kind}", self.pages[kind], headers={"Content-Type": "text/html"})
            server.add(f"/faulty-feed/{kind}.rss", handler=self._handler(feed, "application/rss+xml"))
        items = "".join(f"<item><title>Page behind a {kind} fault</title><link>{base}/faulty/{kind}</link>"
                        f"<description>Feed summary of the {kind} story.</description></item>" for kind in FAULTS)
        server.add("/pages.rss", f'<?xml version="1.0"?><rss version="2.0"><channel><title>Pages</title>{items}'
                                 "</channel></rss>", headers={"Content-Type": "application/rss+xml"})

    def _handler(self, body: bytes, ctype: str):
        def handle(req):
            kind = req.path.rsplit("/", 1)[-1].split(".")[0]
            if not self.broken:
                req.send_response(200)
                req.send_header("Content-Type", ctype)
                req.send_header("Content-Length", str(len(body)))
                req.end_headers()
                req.wfile.write(body)
                return
            if kind == "hang":
                self.release.wait(30)  # accepted, never answered
                req.close_connection = True
                return
            if kind == "reset":
                req.send_response(200)
                req.send_header("Content-Type", ctype)
                req.send_header("Content-Length", str(len(body)))
                req.end_headers()
                req.wfile.write(body[: len(body) // 2])
                req.wfile.flush()
                req.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                req.connection.close()  # RST
                req.close_connection = True
                return
            packed = gzip.compress(body)
            cut = packed[: len(packed) // 2]
            req.send_response(200)
            req.send_header("Content-Type", ctype)
            req.send_header("Content-Encoding", "gzip")
            req.send_header("Content-Length", str(len(cut)))  # the HTTP framing looks complete
            req.end_headers()
            req.wfile.write(cut)

        return handle


@pytest.fixture
def faulty_site(http_server):
    site = FaultySite(http_server)
    yield site
    site.release.set()


def test_network_faults_are_recorded_retried_and_never_half_written(migrated_db, http_server, faulty_site, tmp_path):
    feeds = serve_site(http_server, feeds=("chainpost.atom",))
    feeds["Pages"] = http_server.url("/pages.rss")
    for kind in FAULTS:
        feeds[f"Faulty {kind}"] = http_server.url(f"/faulty-feed/{kind}.rss")
    feeds_file = write_feed_list(tmp_path / "feeds.yml", feeds)
    settings = Settings(allow_private_hosts="1", host_delay_s=0, retries=0, timeout_s=1.5, extract_workers=1)

    started = time.monotonic()
    summary = pipeline.run(migrated_db, feeds_file, settings)
    assert time.monotonic() - started < 30
    assert summary["status"] == "partial"
    by_name = {f["name"]: f for f in summary["feeds"]}
    assert by_name["chainpost.atom"]["status"] == "ok" and by_name["Pages"]["status"] == "ok"
    kinds = {"reset": "connection", "gzip": "connection", "hang": "timeout"}
    assert dict(query(migrated_db, """SELECT f.name, x.error_kind FROM feed_fetches x JOIN feeds f USING (feed_id)
                                      WHERE x.status = 'error'""")) == {f"Faulty {k}": v for k, v in kinds.items()}
    pages = {r[0].rsplit("/", 1)[1]: r[1:] for r in query(
        migrated_db, """SELECT canonical_url, extract_state, extract_error_kind, text_source, text, page_sha256
                        FROM articles WHERE canonical_url LIKE '%%/faulty/%%'""")}
    assert set(pages) == set(FAULTS)
    for kind, (state, error_kind, source, text, sha) in pages.items():
        assert (state, error_kind, source) == ("retry", kinds[kind], "feed_summary"), kind
        assert text == f"Feed summary of the {kind} story."  # the feed's text, never half a page
        assert sha is None  # no half page archived
    assert query(migrated_db, "SELECT count(*) FROM articles WHERE text LIKE %s", f"%{HALF_MARKER}%") == [(0,)]
    assert query(migrated_db, "SELECT count(*) FROM articles WHERE extract_state <> 'done' "
                              "AND canonical_url NOT LIKE '%%/faulty/%%'") == [(0,)]

    faulty_site.broken = False
    summary = pipeline.run(migrated_db, feeds_file, settings)
    assert summary["status"] == "success"
    rows = {r[0].rsplit("/", 1)[1]: r[1:] for r in query(
        migrated_db, """SELECT canonical_url, extract_state, text_source, extract_error_kind, extract_attempts,
                               position(%s in text) > 0 FROM articles WHERE canonical_url LIKE '%%/faulty/%%'""",
        f"{HALF_MARKER} ")}
    assert rows == {k: ("done", "page", None, 2, True) for k in FAULTS}
    # the feeds that failed are read now; nothing is stored twice
    assert query(migrated_db, "SELECT count(*) FROM articles WHERE canonical_url LIKE '%%/faulty-item/%%'") == [(3,)]
    assert query(migrated_db, "SELECT count(*) - count(DISTINCT canonical_url) FROM articles") == [(0,)]
    assert query(migrated_db, "SELECT count(*) FROM articles WHERE extract_state <> 'done'") == [(0,)]


# ------------------------------------------------------------------------------------------------ two runs at once


def test_two_runs_at_once_one_refused_with_a_clear_line(migrated_db, http_server, tmp_path):
    site = GeneratedSite(http_server, n=8)
    site.gate = threading.Event()  # the first run holds the lock until the second one has been refused
    feeds = write_feed_list(tmp_path / "feeds.yml", {"Generated Wire": site.feed_url})
    env = {"CRYPTO_NEWS_DB_URL": migrated_db}
    first = cli(["run", "--json", "--feeds", str(feeds)], env, start_new_session=True)
    try:
        with running(first):
            wait_for(lambda: query(migrated_db, "SELECT 1 FROM pipeline_runs WHERE status = 'running'"), 60,
                     "the first run to start", first)
            second = cli(["run", "--json", "--feeds", str(feeds)], env, start_new_session=True)
            with running(second):
                out2, err2 = second.communicate(timeout=120)
            site.gate.set()
            out1, err1 = first.communicate(timeout=120)
    finally:
        site.gate.set()
    assert second.returncode == 1 and out2 == ""
    line = err2.strip().splitlines()
    assert len(line) == 1 and line[0].startswith("crypto-news: another crypto-news run is in progress on this "
                                                 "database (run 1, started "), err2
    assert first.returncode == 0, err1
    assert query(migrated_db, "SELECT status, articles_new, articles_extracted FROM pipeline_runs") == [
        ("success", 8, 8)]
    assert query(migrated_db, "SELECT count(*), count(DISTINCT canonical_url) FROM articles") == [(8, 8)]
    assert query(migrated_db, "SELECT count(*) FROM article_sources") == [(8,)]


# ------------------------------------------------------------------------------------------------ truncated streams


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "br"])
def test_truncated_compressed_body_is_a_retryable_error_not_half_a_body(http_server, encoding):
    import zlib

    import brotli

    from crypto_news.fetch import FetchError, HttpClient

    plain = b"<html><body>" + b"<p>a sentence of the article</p>" * 3000 + b"</body></html>"
    packed = {"gzip": gzip.compress, "deflate": zlib.compress, "br": brotli.compress}[encoding](plain)
    cut = packed[: len(packed) // 2]
    url = http_server.add("/cut", cut, headers={"Content-Encoding": encoding})  # Content-Length of the cut
    empty = http_server.add("/empty", b"", headers={"Content-Encoding": encoding})
    whole = http_server.add("/whole", packed, headers={"Content-Encoding": encoding})
    with HttpClient(Settings(allow_private_hosts="1", host_delay_s=0, retries=0, timeout_s=5)) as client:
        with pytest.raises(FetchError) as err:
            client.get(url)
        assert (err.value.kind, err.value.retryable) == ("connection", True)
        assert "truncated" in str(err.value)
        assert client.get(empty).body == b""  # no body at all is not a truncated stream
        assert client.get(whole).body == plain
