"""The attacks of issue 16, each done for real and each with the result it must have (docs/RELIABILITY.md,
"Attacks"): hostile feeds and pages through the real parsers, secrets planted in every input and looked for in every
output, a reader login holding locks, odd settings, killed runs.

Time is never asserted by the wall clock: a CPU-bound attack runs in a child process under an RLIMIT_CPU budget
hundreds of times what the fixed code needs (the old code, quadratic, went over it), and the text paths are checked
by the input-size budget their parser is given.
"""

from __future__ import annotations

import random
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from crypto_news import text as textmod
from crypto_news.extract import extract_page
from crypto_news.extract.metadata import parse_datetime
from crypto_news.feeds.parse import FeedParseError, parse_feed
from crypto_news.feeds.urls import canonical_url

ROOT = Path(__file__).resolve().parents[1]
MARKUP = re.compile(r"<[A-Za-z/!?]")  # what an HTML renderer would take for the start of a tag


def rss_item(title: str = "Plain title", link: str = "https://news.test/a", extra: str = "") -> str:
    return f"<item><title>{title}</title><link>{link}</link>{extra}</item>"


def rss(*items: str) -> bytes:
    return ('<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>Wire</title>'
            f"<link>https://news.test/</link>{''.join(items)}</channel></rss>").encode()


def _parse_under_cpu_budget(body: bytes, seconds: int = 20) -> subprocess.CompletedProcess:
    """parse_feed on ``body`` in a child process limited to ``seconds`` of CPU (SIGXCPU beyond)."""
    code = textwrap.dedent(f"""
        import resource, sys
        resource.setrlimit(resource.RLIMIT_CPU, ({seconds}, {seconds} + 1))
        from crypto_news.feeds.parse import parse_feed, FeedParseError
        body = sys.stdin.buffer.read()
        try:
            feed = parse_feed(body)
            print("ok", len(feed.items), len(feed.items[0].title or ""), len(feed.items[0].categories))
        except FeedParseError as exc:
            print("error", exc.kind)
    """)
    return subprocess.run([sys.executable, "-c", code], input=body, capture_output=True)


# ------------------------------------------------------------------------------------------------ 1. CPU blow-up


@pytest.mark.parametrize("name, body", [
    ("comment openers in a title", rss(rss_item("<![CDATA[" + "<!--" * 96_000 + "]]>"))),
    ("script openers in a title", rss(rss_item("<![CDATA[" + "<script " * 60_000 + "]]>"))),
    ("tag openers in a summary", rss(rss_item(extra="<description><![CDATA[" + "<p " * 150_000
                                              + "]]></description>"))),
    ("40,000 categories", rss(rss_item(extra="".join(f"<category>c{i}</category>" for i in range(40_000))))),
])
def test_hostile_feed_text_is_parsed_within_a_small_cpu_budget(name, body):
    proc = _parse_under_cpu_budget(body)
    assert proc.returncode == 0, f"{name}: killed or failed ({proc.returncode}): {proc.stderr.decode()[-300:]}"
    status, *rest = proc.stdout.decode().split()
    assert status == "ok", proc.stdout
    n_items, title_len, n_categories = map(int, rest)
    assert n_items == 1 and title_len <= textmod.LIMITS["title"] and n_categories <= 50


def test_text_parser_gets_a_budget_per_field(monkeypatch):
    """Every text path hands its parser at most a small multiple of the field's limit, whatever the input size."""
    seen = []
    real = textmod._fragment_text
    monkeypatch.setattr(textmod, "_fragment_text", lambda markup: seen.append(len(markup)) or real(markup))
    huge = "<b>word</b> " * 500_000
    feed = parse_feed(rss(rss_item(f"<![CDATA[{huge}]]>",
                                   extra=f"<description><![CDATA[{huge}]]></description>"
                                         f"<author>{'<i>x</i>' * 50_000}</author>")))
    assert feed.items[0].title and feed.items[0].summary
    assert seen and max(seen) <= 4 * textmod.LIMITS["summary"] + 100, max(seen)


def test_parsing_has_a_cpu_deadline_of_its_own_kind():
    body = rss(*[rss_item(f"Story {i}", f"https://news.test/{i}") for i in range(3000)])
    with pytest.raises(FeedParseError) as err:
        parse_feed(body, cpu_limit_s=0.0)
    assert err.value.kind == "parse_timeout"
    assert len(parse_feed(body, max_items=10).items) == 10  # the default deadline leaves a normal feed alone


# ------------------------------------------------------------------------------------------------ 3. stored XSS


HOSTILE_TEXT = [
    "<script>alert(1)</script>Headline",
    "<![CDATA[&lt;img src=x onerror=alert(1)&gt;]]>Headline",
    "&amp;lt;script&amp;gt;alert(1)&amp;lt;/script&amp;gt;Headline",
    "&lt;a href=&quot;javascript:alert(1)&quot;&gt;Headline&lt;/a&gt;",
    "<![CDATA[<svg/onload=alert(1)>Headline]]>",
    "Headline <img src=x onerror=alert(1)",
    "&amp;amp;lt;iframe src=javascript:alert(1)&amp;amp;gt;Headline",
]


@pytest.mark.parametrize("hostile", HOSTILE_TEXT)
def test_feed_text_fields_come_out_without_markup(hostile):
    atom = (f'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>{hostile}</title>'
            f'<entry><title type="html">{hostile}</title><link href="https://news.test/x"/><id>urn:x</id>'
            f'<author><name>{hostile}</name></author><category term="{hostile.replace(chr(34), "&quot;")}"/>'
            f'<summary type="html">{hostile}</summary><content type="html">{hostile}</content></entry></feed>')
    feed = parse_feed(atom.encode())
    item = feed.items[0]
    for value in (feed.title, item.title, item.summary, item.content, item.author, *item.categories):
        assert value is None or not MARKUP.search(value), value
        assert value is None or "onerror" not in value and "javascript:" not in value, value


def test_page_metadata_is_plain_text_and_image_urls_are_http(tmp_path):
    from crypto_news.model import Obtained, PageWork
    from crypto_news.pipeline.stage_extract import _article_values

    bad = "&lt;script&gt;alert(1)&lt;/script&gt;"
    page = f"""<html lang="en"><head><title>{bad}T</title>
      <meta property="og:site_name" content="{bad}Site"><meta name="author" content="{bad}Ann">
      <meta property="og:title" content="&lt;img src=x onerror=alert(1)&gt;Title">
      <meta name="description" content="{bad}Desc"><meta property="article:tag" content="{bad}tag">
      <meta property="og:image" content="javascript:alert(1)"></head>
      <body><article>{'<p>' + 'Bitcoin miners expanded their operations this quarter. ' * 30 + '</p>'}
      <p>&lt;script&gt;alert(2)&lt;/script&gt; and &lt;img src=y onerror=alert(3)&gt; were quoted.</p></article>
      </body></html>"""
    result = extract_page(page.encode(), "https://news.test/a", "text/html; charset=utf-8")
    assert result.status == "ok"
    row = {"feed_content": None, "summary": None, "published_at": None}
    values = _article_values(row, Obtained(article_id=1, attempts=1, work=PageWork(page=result)))
    stored = [v for v in values if isinstance(v, str)] + list(values[15])
    assert values[16] is None  # image_url: javascript: refused
    for v in stored:
        assert not MARKUP.search(v) and "onerror" not in v and "javascript:" not in v, v
    assert "Bitcoin miners" in values[3]


# ------------------------------------------------------------------------------------------------ 8. bad dates


@pytest.mark.parametrize("value", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-05:00"])
def test_a_date_out_of_range_is_no_date(value):
    assert parse_datetime(value) is None


def test_a_page_with_an_impossible_date_keeps_its_text():
    body = ('<html><head><meta property="article:published_time" content="0001-01-01T00:00:00+14:00">'
            '<script type="application/ld+json">{"datePublished": "9999-12-31T23:59:59-05:00"}</script></head>'
            "<body><article><p>" + "Regulators in Brussels agreed on new rules for exchanges. " * 30
            + "</p></article></body></html>").encode()
    result = extract_page(body, "https://news.test/dated", "text/html")
    assert result.status == "ok" and result.published is None
    assert "Regulators in Brussels" in result.text


# ------------------------------------------------------------------------------------------------ 9. distinct pages


def test_channel_parameters_are_dropped_only_for_known_channel_values():
    distinct = ["https://n.test/r?from=mapping-report-2024", "https://n.test/r?from=mapping-report-2025",
                "https://n.test/r?rss=1", "https://n.test/r?rss=2", "https://n.test/r?source=app-store-review",
                "https://n.test/r?source=homepage-2"]
    assert len({canonical_url(u) for u in distinct}) == len(distinct)
    assert canonical_url("https://n.test/r?ref=rss&id=3") == canonical_url("https://n.test/r?id=3&utm_source=x")
    assert canonical_url("https://n.test/r?source=twitter") == "https://n.test/r"


# ------------------------------------------------------------------------------------------------ fuzzing the text paths


_PIECES = ["<", ">", "<!--", "-->", "<script>", "</script>", "<p ", "<img src=x onerror=alert(1)>", "&lt;", "&gt;",
           "&amp;", "&amp;lt;", "<![CDATA[", "]]>", "javascript:", '"', "'", "word", " ", "\n", "&#0;", "&#xD800;",
           "<a href='javascript:alert(1)'>", "</a>", "<iframe>", "<style>", "\x00", "\u202e", "é"]


def test_text_paths_fuzz_no_markup_and_storable():
    rng = random.Random(16)
    for _ in range(3000):
        value = "".join(rng.choice(_PIECES) for _ in range(rng.randint(0, 40)))
        assert not MARKUP.search(textmod.no_markup(value)), value
        for out in (textmod.html_to_text(value, 300), textmod.plain_text(value, 300)):
            if out is None:
                continue
            assert not MARKUP.search(out), (value, out)
            assert "\x00" not in out and len(out) <= 300
            out.encode("utf-8")
        assert textmod.http_url(value) is None or textmod.http_url(value).startswith(("http://", "https://"))
    for url in ("javascript:alert(1)", " JAVASCRIPT:alert(1)", "data:text/html,x", "//evil.test/x", "ftp://x/y",
                "http://a b/", "https://news.test/<script>"):
        safe = textmod.http_url(url)
        assert safe is None or (safe.startswith("https://news.test/") and "<" not in safe), safe


# ------------------------------------------------------------------------------------------------ 2. database password

SECRET = "SuperSecret-16"
DSN_FORMS = [
    f"host=127.0.0.1 port=1 user=u password={SECRET} dbname=db",
    f"host=127.0.0.1 port=1 user=u password='{SECRET}' dbname=db connect_timeout=2",
    f"postgresql://u@127.0.0.1:1/db?password={SECRET}",
    f"postgresql://u:{SECRET}@127.0.0.1:1/db",
    f"postgres://u:{SECRET.replace('-', '%2D')}@127.0.0.1:1/db?connect_timeout=2",
]


def _cli(args, env_extra, timeout=120):
    import os

    env = {**os.environ, "CRYPTO_NEWS_EXTRACT_WORKERS": "1", "CRYPTO_NEWS_RETRIES": "0", **env_extra}
    return subprocess.run([sys.executable, "-m", "crypto_news.cli", *args], capture_output=True, text=True,
                          env=env, timeout=timeout)


@pytest.mark.parametrize("dsn", DSN_FORMS)
def test_every_libpq_form_of_the_password_is_masked(dsn):
    from crypto_news.warehouse.db import mask_secrets, mask_url

    shown = mask_url(dsn)
    assert SECRET not in shown and "%2D" not in shown.split("@")[0] and "***" in shown
    assert "127.0.0.1" in shown and "u" in shown
    assert SECRET not in mask_secrets(f"could not connect with {dsn} (password {SECRET})", dsn)


@pytest.mark.parametrize("dsn", [DSN_FORMS[0], DSN_FORMS[2]])
def test_no_command_prints_the_password(dsn, tmp_path):
    feeds = tmp_path / "feeds.yml"
    feeds.write_text("feeds:\n  - name: A\n    url: http://127.0.0.1:9/feed.xml\n")
    for cmd in (["run", "--feeds", str(feeds)], ["summary"], ["migrate"], ["feeds"], ["retention"], ["reextract"]):
        proc = _cli(["-v", *cmd], {"CRYPTO_NEWS_DB_URL": dsn})
        assert proc.returncode == 2, (cmd, proc.stderr)
        assert SECRET not in proc.stdout + proc.stderr, (cmd, proc.stderr)
        assert "***" in proc.stderr and "Traceback" not in proc.stderr, (cmd, proc.stderr)


# ------------------------------------------------------------------------------------------------ 6. settings


@pytest.mark.parametrize("name, value", [
    ("CRYPTO_NEWS_ARCHIVE_DAYS", "0"), ("CRYPTO_NEWS_ARCHIVE_DAYS", "-1"), ("CRYPTO_NEWS_ARCHIVE_MAX_MB", "nan"),
    ("CRYPTO_NEWS_ARCHIVE_MAX_MB", "0"), ("CRYPTO_NEWS_ARCHIVE_MAX_MB", "-1"), ("CRYPTO_NEWS_ARCHIVE_MAX_MB", "inf"),
    ("CRYPTO_NEWS_TIMEOUT_S", "nan"), ("CRYPTO_NEWS_TIMEOUT_S", "-5"), ("CRYPTO_NEWS_MAX_BYTES", "-1"),
    ("CRYPTO_NEWS_HOST_DELAY_S", "inf"), ("CRYPTO_NEWS_EXTRACT_WORKERS", "0"), ("CRYPTO_NEWS_RETRY_MAX_WAIT_S", "-inf"),
])
def test_odd_settings_are_refused_in_one_line(name, value):
    from crypto_news.config import Settings

    with pytest.raises(ValueError, match=name):
        Settings.from_env({name: value})


def test_retention_with_odd_settings_leaves_the_archive(migrated_db):
    from conftest import query
    from crypto_news.warehouse import archive

    sha, packed = archive.pack(b"<html>kept</html>")
    query(migrated_db, "INSERT INTO page_archive (sha256, content, compression, raw_bytes, stored_bytes) "
                       "VALUES (%s, %s, 'zstd', 17, %s)", sha, packed, len(packed))
    for value in ("0", "-1", "nan", "inf"):
        for name in ("CRYPTO_NEWS_ARCHIVE_DAYS", "CRYPTO_NEWS_ARCHIVE_MAX_MB"):
            proc = _cli(["retention"], {"CRYPTO_NEWS_DB_URL": migrated_db, name: value})
            assert proc.returncode == 2 and name in proc.stderr, proc.stderr
            assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert query(migrated_db, "SELECT count(*) FROM page_archive") == [(1,)]
    for bad in ({"days": 0, "max_mb": None}, {"days": None, "max_mb": float("nan")}, {"days": None, "max_mb": 0}):
        with pytest.raises(ValueError):
            archive.apply_retention(None, **bad)


# ------------------------------------------------------------------------------------------------ 12. feed list


@pytest.mark.parametrize("entry, words", [
    ("site: {a: 1}", "'site'"), ("site: 'javascript:alert(1)'", "'site'"), ("site: [1]", "'site'"),
    ("tags: {a: 1}", "'tags'"), ("name: {a: 1}", "'name'"), ("site: 'http://user:pw@news.test/'", "'site'"),
])
def test_feed_list_is_validated_with_file_and_entry(tmp_path, entry, words):
    from crypto_news.feeds.feedlist import FeedListError, load_feed_list

    path = tmp_path / "feeds.yml"
    lines = ["feeds:", "  - name: Fine", "    url: https://news.test/feed.xml",
             "  - url: https://other.test/feed.xml"]
    if not entry.startswith("name:"):
        lines.append("    name: Second")
    lines.append(f"    {entry}")
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(FeedListError) as err:
        load_feed_list(path)
    assert str(path) in str(err.value) and "feed #2" in str(err.value) and words in str(err.value)


# ------------------------------------------------------------------------------------------------ 13. connection leak


def test_classify_closes_its_reader_when_the_writer_cannot_connect(migrated_db, monkeypatch):
    from crypto_news.pipeline import stage_classify
    from crypto_news.warehouse import db

    opened = []
    real = db.connect

    def connect(url, **kwargs):
        if "write" in kwargs.get("application_name", ""):
            raise db.DatabaseUnavailable("cannot connect (too many connections)")
        conn = real(url, **kwargs)
        opened.append(conn)
        return conn

    monkeypatch.setattr(stage_classify.db, "connect", connect)
    with pytest.raises(db.DatabaseUnavailable):
        stage_classify.classify_articles(migrated_db, None, workers=1)
    assert opened and all(c.closed for c in opened)


# ------------------------------------------------------------------------------------------------ 5. a reader's locks


@pytest.fixture
def reader_login(migrated_db):
    """A login in crypto_news_reader, connected to the test database with an open session."""
    import uuid
    from urllib.parse import urlsplit, urlunsplit

    import psycopg2

    from conftest import ADMIN_URL

    role = f"cn_reader_{uuid.uuid4().hex[:8]}"
    admin = psycopg2.connect(ADMIN_URL)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f"CREATE ROLE {role} LOGIN IN ROLE crypto_news_reader")
    parts = urlsplit(migrated_db)
    conn = psycopg2.connect(urlunsplit(parts._replace(netloc=f"{role}@{parts.hostname}:{parts.port or 5432}")))
    conn.autocommit = True
    try:
        yield conn
    finally:
        conn.close()
        with admin.cursor() as cur:
            cur.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s", (role,))
            cur.execute(f"DROP OWNED BY {role}")
            cur.execute(f"DROP ROLE IF EXISTS {role}")
        admin.close()


def test_a_reader_holding_every_lock_it_can_take_does_not_stop_a_run(migrated_db, reader_login, http_server,
                                                                        tmp_path):
    import psycopg2

    from crypto_news.warehouse import migrations
    from sitekit import serve_site, write_feed_list

    with reader_login.cursor() as cur:
        for key in (0x43_4E_52_55, migrations.MIGRATE_LOCK):  # the advisory keys the locks used to be
            cur.execute("SELECT pg_advisory_lock(%s)", (key,))
        for sql in ("SELECT * FROM crypto_news.locks FOR UPDATE", "SELECT * FROM crypto_news.locks FOR KEY SHARE",
                    "LOCK TABLE crypto_news.locks IN EXCLUSIVE MODE"):
            with pytest.raises(psycopg2.errors.InsufficientPrivilege):
                cur.execute("BEGIN")
                try:
                    cur.execute(sql)
                finally:
                    cur.execute("ROLLBACK")
        cur.execute("BEGIN")
        cur.execute("LOCK TABLE crypto_news.locks, crypto_news.schema_migrations IN ACCESS SHARE MODE")
    feeds = write_feed_list(tmp_path / "feeds.yml", serve_site(http_server, feeds=("chainpost.atom",)))
    proc = _cli(["run", "--feeds", str(feeds)], {"CRYPTO_NEWS_DB_URL": migrated_db})
    assert proc.returncode == 0, proc.stderr
    (tmp_path / "extra").mkdir()
    for f in sorted((ROOT / "sql" / "migrations").glob("*.sql")):
        (tmp_path / "extra" / f.name).write_bytes(f.read_bytes())
    (tmp_path / "extra" / "0099_probe.sql").write_text("SELECT 1;\n")
    assert migrations.migrate(migrated_db, tmp_path / "extra") == ["0099_probe.sql"]
    with reader_login.cursor() as cur:
        cur.execute("ROLLBACK")


def test_waiting_for_the_migration_lock_ends_with_a_message(migrated_db, monkeypatch, tmp_path):
    import psycopg2

    from crypto_news.warehouse import migrations

    holder = psycopg2.connect(migrated_db)
    try:
        with holder.cursor() as cur:
            cur.execute("SELECT 1 FROM crypto_news.locks WHERE name = 'migrate' FOR UPDATE")
        monkeypatch.setattr(migrations, "LOCK_WAIT_S", 1)
        (tmp_path / "m").mkdir()
        for f in sorted((ROOT / "sql" / "migrations").glob("*.sql")):
            (tmp_path / "m" / f.name).write_bytes(f.read_bytes())
        (tmp_path / "m" / "0099_probe.sql").write_text("SELECT 1;\n")
        with pytest.raises(migrations.MigrationError, match="migration lock"):
            migrations.migrate(migrated_db, tmp_path / "m")
    finally:
        holder.close()


# ------------------------------------------------------------------------------------------------ 7. orphaned workers


@pytest.mark.parametrize("sig", ["SIGKILL", "SIGTERM"])
def test_no_process_outlives_a_killed_run(sig, migrated_db, http_server, tmp_path):
    import os
    import signal
    import time

    import psutil

    from sitekit import write_feed_list
    from test_faults import GeneratedSite, cli, extraction_progress, running, wait_for

    site = GeneratedSite(http_server, latency=0.15)
    feeds = write_feed_list(tmp_path / "feeds.yml", {"Generated Wire": site.feed_url})
    proc = cli(["run", "--json", "--feeds", str(feeds)],
               {"CRYPTO_NEWS_DB_URL": migrated_db, "CRYPTO_NEWS_EXTRACT_WORKERS": "2"}, start_new_session=True)
    with running(proc):
        wait_for(lambda: (p := extraction_progress(migrated_db)) and p[0] > 0 and p, 90, "extraction", proc)
        family = psutil.Process(proc.pid).children(recursive=True)
        assert len(family) >= 3, family  # the fork server, the resource tracker, the workers
        os.kill(proc.pid, getattr(signal, sig))  # the run's process only, as a crash or an OOM kill would
        proc.wait(10)
        deadline = time.monotonic() + 60  # a generous bound for the process table to settle, not a speed check
        alive = family
        while alive and time.monotonic() < deadline:
            alive = [p for p in alive if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
            time.sleep(0.2)
        for p in alive:  # leave nothing behind, whatever the outcome
            p.kill()
    assert alive == [], [(p.pid, p.cmdline()) for p in alive]


# ------------------------------------------------------------------------------------------------ 10. alert webhook


def test_the_alert_webhook_goes_through_the_guard_and_its_path_is_never_logged(monkeypatch, caplog):
    import logging

    from conftest import LoopbackServer
    from crypto_news.orchestration.alerts import on_failure_callback
    from test_hostile import Canary

    canary = Canary("127.0.0.1")
    hook = LoopbackServer("127.0.0.2")
    try:
        def redirect(req):
            req.send_response(302)
            req.send_header("Location", canary.url("/internal"))
            req.send_header("Content-Length", "0")
            req.end_headers()

        hook.add("/hooks/T0KEN-16", handler=redirect)
        hook.httpd.RequestHandlerClass.do_POST = hook.httpd.RequestHandlerClass.do_GET
        monkeypatch.setenv("CRYPTO_NEWS_ALLOW_PRIVATE_HOSTS", "127.0.0.2")
        monkeypatch.setenv("CRYPTO_NEWS_ALERT_TIMEOUT_S", "2")
        with caplog.at_level(logging.INFO, logger="crypto_news"):
            for url in (hook.url("/hooks/T0KEN-16"), hook.url("/hooks/T0KEN-16 with space"),
                        canary.url("/hooks/T0KEN-16")):
                monkeypatch.setenv("CRYPTO_NEWS_ALERT_WEBHOOK", url)
                on_failure_callback({"exception": ValueError("boom")})
        assert hook.routes["/hooks/T0KEN-16"].hits == 1  # the alert was posted, and the redirect not followed
        assert canary.connections == 0
        assert caplog.text.count("crypto-news alert webhook failed") == 3
        assert "T0KEN" not in caplog.text and "/hooks" not in caplog.text
    finally:
        hook.close()
        canary.close()


# ------------------------------------------------------------------------------------------------ 11. politeness


def test_one_host_spelled_several_ways_shares_one_politeness_limit():
    import threading
    import time
    from concurrent.futures import ThreadPoolExecutor

    from conftest import LoopbackServer
    from crypto_news.config import Settings
    from crypto_news.fetch import HttpClient

    server = LoopbackServer("127.0.0.2")
    state = {"in_flight": 0, "most": 0}
    lock = threading.Lock()

    def slow(req):
        with lock:
            state["in_flight"] += 1
            state["most"] = max(state["most"], state["in_flight"])
        time.sleep(0.3)  # holds the request open so that overlapping requests would be seen; asserts nothing
        with lock:
            state["in_flight"] -= 1
        req.send_response(200)
        req.send_header("Content-Length", "2")
        req.end_headers()
        req.wfile.write(b"ok")

    server.add("/p", handler=slow)
    port = server.port
    spellings = [f"http://{h}:{port}/p" for h in ("127.0.0.2", "2130706434", "0x7f000002", "127.2",
                                                     "[::ffff:127.0.0.2]")]
    settings = Settings(allow_private_hosts="1", host_concurrency=1, host_delay_s=0, retries=0, timeout_s=10)
    try:
        with HttpClient(settings) as client, ThreadPoolExecutor(len(spellings)) as pool:
            statuses = list(pool.map(lambda u: client.get(u).status, spellings))
    finally:
        server.close()
    assert statuses == [200] * len(spellings)
    assert state["most"] == 1


# ------------------------------------------------------------------------------------------------ 4. feed credentials

FEED_SECRET = "FeedPass-16"


def test_feed_credentials_are_sent_and_never_stored_or_printed(migrated_db, http_server, tmp_path):
    import base64

    from conftest import query

    expected = "Basic " + base64.b64encode(f"reader:{FEED_SECRET}".encode()).decode()
    base = http_server.url("").rstrip("/")
    feed = rss(rss_item("Relative link story", "/news/relative-story"),
               rss_item("Absolute with user info", f"http://reader:{FEED_SECRET}@127.0.0.1:{http_server.port}/n/2"))

    def guarded(req):
        ok = req.headers.get("Authorization") == expected
        req.send_response(200 if ok else 401)
        body = feed if ok else b"no"
        req.send_header("Content-Type", "application/rss+xml")
        req.send_header("Content-Length", str(len(body)))
        req.end_headers()
        req.wfile.write(body)

    http_server.add("/private/feed.xml", handler=guarded)
    secret_url = base.replace("http://", f"http://reader:{FEED_SECRET}@") + "/private/feed.xml"
    feeds = tmp_path / "feeds.yml"
    feeds.write_text(f"feeds:\n  - name: Private Wire\n    url: {secret_url}\n")
    outputs = []
    for args in (["-v", "run", "--json", "--feeds", str(feeds)], ["summary"], ["summary", "--json"], ["feeds"]):
        proc = _cli(args, {"CRYPTO_NEWS_DB_URL": migrated_db})
        outputs += [proc.stdout, proc.stderr]
    assert '"status": "ok"' in outputs[0] or "'status': 'ok'" in outputs[0] or '"ok"' in outputs[0], outputs[:2]
    assert query(migrated_db, "SELECT count(*) FROM articles") == [(2,)]
    urls = query(migrated_db, "SELECT url, canonical_url FROM articles ORDER BY url")
    assert all("@" not in u for row in urls for u in row), urls
    for text in outputs:
        assert FEED_SECRET not in text
    from test_hostile import find_in_database

    assert find_in_database(migrated_db, FEED_SECRET) == []
    assert find_in_database(migrated_db, "reader:") == []


# ------------------------------------------------------------------------------------------------ the output scan

from test_security import password_role  # noqa: E402,F401 - a fixture: a login role with a password

HOSTILE_PAGE = """<html lang="en"><head><title>&lt;script&gt;alert(1)&lt;/script&gt;Page</title>
<meta property="og:site_name" content="&lt;script&gt;alert(1)&lt;/script&gt;Outlet">
<meta name="author" content="&lt;img src=x onerror=alert(1)&gt;Writer">
<meta name="description" content="&lt;iframe src=javascript:alert(1)&gt;&lt;/iframe&gt;About">
<meta property="article:tag" content="&lt;script&gt;x&lt;/script&gt;Mining">
<meta property="og:image" content="javascript:alert(1)"></head><body><article>
<p>{body}</p><p>&lt;script&gt;alert(2)&lt;/script&gt; &lt;img src=y onerror=alert(3)&gt;</p></article></body></html>"""


def test_output_scan_no_secret_and_no_markup_anywhere(password_role, http_server, tmp_path):
    from urllib.parse import urlsplit

    from conftest import query
    from test_hostile import find_in_database

    url, db_password = password_role
    parts = urlsplit(url)
    keyword_dsn = (f"host={parts.hostname} port={parts.port} user={parts.username} password={db_password} "
                   f"dbname={parts.path.lstrip('/')}")
    body = "Miners in Texas expanded their capacity while regulators watched the grid. " * 30
    http_server.add("/news/one", HOSTILE_PAGE.format(body=body), headers={"Content-Type": "text/html"})
    hostile_titles = [t.replace("Headline", f"Story {i}") for i, t in enumerate(HOSTILE_TEXT)]
    items = [rss_item(f"<![CDATA[{t}]]>" if "CDATA" not in t else t, f"/news/{'one' if i == 0 else f'x{i}'}",
                      extra=f"<description><![CDATA[{t}]]></description><author>{t}</author>"
                            f"<category><![CDATA[{t}]]></category>")
             for i, t in enumerate(hostile_titles)]
    feed = rss(*items)
    expected = "Basic " + __import__("base64").b64encode(f"reader:{FEED_SECRET}".encode()).decode()

    def guarded(req):
        ok = req.headers.get("Authorization") == expected
        req.send_response(200 if ok else 401)
        out = feed if ok else b"no"
        req.send_header("Content-Type", "application/rss+xml")
        req.send_header("Content-Length", str(len(out)))
        req.end_headers()
        req.wfile.write(out)

    http_server.add("/private/feed.xml", handler=guarded)
    feed_url = http_server.url("/private/feed.xml").replace("http://", f"http://reader:{FEED_SECRET}@")
    feeds = tmp_path / "feeds.yml"
    feeds.write_text(f"feeds:\n  - name: Private Wire\n    url: {feed_url}\n"
                     f"  - name: Dead Wire\n    url: http://reader:{FEED_SECRET}@127.0.0.1:9/feed.xml\n")
    outputs = []
    for dsn in (keyword_dsn, url):
        for args in (["-v", "run", "--json", "--feeds", str(feeds)], ["-v", "summary"], ["-v", "feeds"],
                     ["-v", "migrate"], ["-v", "retention"], ["-v", "reextract"]):
            proc = _cli(args, {"CRYPTO_NEWS_DB_URL": dsn})
            outputs += [proc.stdout, proc.stderr]
    assert query(url, "SELECT count(*) FROM articles WHERE text_source = 'page'") == [(1,)]
    for text in outputs:
        for secret in (db_password, FEED_SECRET):
            assert secret not in text
    for needle in (db_password, FEED_SECRET, "<script", "onerror", "javascript:", "<img", "<iframe", "<svg"):
        assert find_in_database(url, needle) == [], needle
    views = [r[0] for r in query(url, "SELECT table_name FROM information_schema.views "
                                      "WHERE table_schema = 'crypto_news'")]
    for view in views:
        for needle in ("<script", "onerror", "javascript:", FEED_SECRET):
            found = query(url, f"SELECT count(*) FROM crypto_news.{view} x WHERE strpos(x::text, %s) > 0", needle)
            assert found == [(0,)], (view, needle)
