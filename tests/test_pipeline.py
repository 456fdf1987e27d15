"""End to end through the pipeline module: real feeds and pages over loopback HTTP, a real PostgreSQL database."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from conftest import query as q
from crypto_news import pipeline
from crypto_news.config import Settings
from crypto_news.pipeline import stage_extract, stage_feeds
from crypto_news.pipeline.stages import STAGE_NAMES
from sitekit import serve_site, write_feed_list

SETTINGS = Settings(allow_private_hosts="1", host_delay_s=0, retries=0, timeout_s=10, extract_workers=1)



def test_run_loads_every_distinct_item_once(migrated_db, http_server, tmp_path):
    feeds = write_feed_list(tmp_path / "feeds.yml", serve_site(http_server))
    summary = pipeline.run(migrated_db, feeds, SETTINGS)

    assert summary["status"] == "success"
    # every declared stage ran, the DAG's list (backfill_interval idles: a command-line run has no data interval)
    assert list(summary["stage_seconds"]) == ["migrate", *STAGE_NAMES[:STAGE_NAMES.index("finish_run")]]
    assert "backfill_interval" in STAGE_NAMES
    assert [f["status"] for f in summary["feeds"]] == ["ok", "ok"]
    # 5 usable items in the RSS feed (one javascript: link skipped), 3 in the Atom feed, one story in both.
    assert summary["articles_new"] == 6
    rss = next(f for f in summary["feeds"] if f["url"].endswith("ledgerwire.rss"))
    assert (rss["items_seen"], rss["items_skipped"]) == (5, 1)
    # fetched in parallel, stored in feed order: the first feed of the list counts the shared story as new
    assert {f["name"]: f["items_new"] for f in summary["feeds"]} == {"ledgerwire.rss": 4, "chainpost.atom": 2}

    rows = q(migrated_db, "SELECT canonical_url, text_source, extract_state, word_count, title FROM articles")
    assert len(rows) == 6
    assert all(r[1] == "page" and r[2] == "done" and r[3] > 80 for r in rows), rows
    urls = {r[0].split("/news/")[1] for r in rows}
    assert urls == {"china-blockchain-mining-ban", "sec-sues-exchange", "el-salvador-buys-btc", "hashrate-record",
                    "price-falls", "defi-exploit"}
    # the shared story: one article, two sources
    assert q(migrated_db, """SELECT count(*) FROM article_sources s JOIN articles a USING (article_id)
                             WHERE a.canonical_url LIKE '%%sec-sues-exchange'""") == [(2,)]
    assert q(migrated_db, "SELECT count(*) FROM article_sources") == [(7,)]

    labels = dict(q(migrated_db, """SELECT split_part(a.canonical_url, '/news/', 2),
                                           array_agg(l.label ORDER BY l.label)
                                    FROM articles a JOIN article_labels l USING (article_id) GROUP BY 1"""))
    assert labels["china-blockchain-mining-ban"] == ["adoption", "mining", "regulation"]
    assert labels["sec-sues-exchange"] == ["regulation"]
    # the classifier's own figures are tested in test_classify.py; here: each story's main label reaches the table
    assert "mining" in labels["hashrate-record"] and "regulation" not in labels["hashrate-record"]
    assert "price-falls" not in labels and "defi-exploit" not in labels
    assert q(migrated_db, "SELECT count(*) FROM article_classifications") == [(6,)]

    fetches = q(migrated_db, "SELECT status, http_status, items_seen FROM feed_fetches ORDER BY feed_id")
    assert fetches == [("ok", 200, 5), ("ok", 200, 3)]
    run = q(migrated_db, "SELECT status, articles_new, articles_extracted, articles_classified FROM pipeline_runs")
    assert run == [("success", 6, 6, 6)]


def test_shared_story_keeps_the_first_feeds_item_whatever_the_timing(migrated_db, http_server, tmp_path):
    """Two feeds carry one story under different titles; the first feed of the list answers last. Outcomes are
    stored in feed order, so its item is the one kept, as when it answers first."""
    import time

    urls = serve_site(http_server)
    route = http_server.routes["/feeds/ledgerwire.rss"]
    answer = route.handler

    def slow(req):
        time.sleep(0.5)  # the other feed has long been fetched and parsed by now
        answer(req)

    route.handler = slow
    summary = pipeline.run(migrated_db, write_feed_list(tmp_path / "feeds.yml", urls), SETTINGS)

    assert {f["name"]: f["items_new"] for f in summary["feeds"]} == {"ledgerwire.rss": 4, "chainpost.atom": 2}
    assert q(migrated_db, "SELECT title FROM articles WHERE canonical_url LIKE '%%/sec-sues-exchange'") == [
        ("SEC sues crypto exchange for operating unregistered securities exchange",)]


def test_second_run_adds_nothing_and_uses_conditional_get(migrated_db, http_server, tmp_path):
    feeds = write_feed_list(tmp_path / "feeds.yml", serve_site(http_server))
    pipeline.run(migrated_db, feeds, SETTINGS)
    before = q(migrated_db, "SELECT (SELECT count(*) FROM articles), (SELECT count(*) FROM article_labels), "
                            "(SELECT count(*) FROM article_sources), (SELECT count(*) FROM article_entities)")
    page_hits = sum(r.hits for p, r in http_server.routes.items() if p.startswith("/news/"))

    summary = pipeline.run(migrated_db, feeds, SETTINGS)

    after = q(migrated_db, "SELECT (SELECT count(*) FROM articles), (SELECT count(*) FROM article_labels), "
                           "(SELECT count(*) FROM article_sources), (SELECT count(*) FROM article_entities)")
    assert after == before
    assert summary["status"] == "success" and summary["articles_new"] == 0
    assert [f["status"] for f in summary["feeds"]] == ["not_modified", "not_modified"]
    assert sum(r.hits for p, r in http_server.routes.items() if p.startswith("/news/")) == page_hits
    sent = [h for m, p, h in http_server.requests if p.startswith("/feeds/")][-2:]
    assert all(h.get("If-None-Match") for h in sent)


def test_unreachable_feed_is_recorded_and_others_load(migrated_db, http_server, tmp_path):
    import socket

    with socket.socket() as s:  # a port with nothing listening
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}/feed.xml"
    http_server.add("/not-a-feed", b"<!doctype html><html><body><h1>Welcome</h1></body></html>",
                    headers={"Content-Type": "text/html"})
    feeds = write_feed_list(tmp_path / "feeds.yml", serve_site(http_server, feeds=("chainpost.atom",)),
                            extra=[("Dead Feed", dead), ("Home Page", http_server.url("/not-a-feed"))])
    summary = pipeline.run(migrated_db, feeds, SETTINGS)

    assert summary["status"] == "partial"
    by_name = {f["name"]: f for f in summary["feeds"]}
    assert by_name["Dead Feed"]["error_kind"] == "connection"
    assert by_name["Home Page"]["error_kind"] == "not_a_feed"
    assert by_name["chainpost.atom"]["status"] == "ok"
    assert q(migrated_db, "SELECT count(*) FROM articles") == [(3,)]
    assert q(migrated_db, "SELECT error_kind, error IS NOT NULL FROM feed_fetches WHERE status = 'error' "
                          "ORDER BY error_kind") == [("connection", True), ("not_a_feed", True)]


def test_page_unavailable_falls_back_to_feed_text(migrated_db, http_server, tmp_path):
    feeds = write_feed_list(tmp_path / "feeds.yml", serve_site(http_server, feeds=("ledgerwire.rss",)))
    http_server.add("/news/el-salvador-buys-btc", b"gone", status=410)
    http_server.add("/news/sec-sues-exchange", b"oops", status=404)
    pipeline.run(migrated_db, feeds, SETTINGS)
    rows = dict((r[0].split("/news/")[1], r[1:]) for r in q(
        migrated_db, "SELECT canonical_url, text_source, extract_error_kind, text FROM articles"))
    assert rows["el-salvador-buys-btc"][:2] == ("feed_summary", "http_error")
    assert "100 bitcoin" in rows["el-salvador-buys-btc"][2]
    assert rows["sec-sues-exchange"][:2] == ("feed_summary", "http_error")
    assert rows["hashrate-record"][:2] == ("page", None)


def _cli(args, env_extra, timeout=300):
    env = {**os.environ, **env_extra}
    return subprocess.run([sys.executable, "-m", "crypto_news.cli", *args], capture_output=True, text=True,
                          env=env, timeout=timeout)


def test_cli_run_json_and_exit_codes(migrated_db, http_server, tmp_path):
    feeds = write_feed_list(tmp_path / "feeds.yml", serve_site(http_server))
    env = {"CRYPTO_NEWS_DB_URL": migrated_db, "CRYPTO_NEWS_EXTRACT_WORKERS": "2"}
    proc = _cli(["run", "--json", "--feeds", str(feeds)], env)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["status"] == "success" and out["articles_new"] == 6
    assert {tuple(sorted(f)) for f in out["feeds"]} == {
        ("error", "error_kind", "gap", "items_backfilled", "items_new", "items_seen", "name", "sitemap_error_kind",
         "status", "url")}
    assert {f["gap"] for f in out["feeds"]} == {None}  # each feed's first fetch
    assert out["items_backfilled"] == 0 and out["feeds_with_gap"] == 0
    # progress on stderr (not a terminal: lines), without -v; the last one of each stage says it is complete
    progress = [line.split("crypto_news.progress: ", 1)[1] for line in proc.stderr.splitlines()
                if "crypto_news.progress: " in line]
    assert "fetch_feeds: 2/2 feeds (100 %)" in "\n".join(progress), proc.stderr
    assert any(line.startswith("extract: 6/6 articles (100 %), ") for line in progress), proc.stderr
    assert any(line.startswith("classify: ") for line in progress), proc.stderr
    quiet = _cli(["-q", "run", "--json", "--feeds", str(feeds)], env)
    assert quiet.returncode == 0 and "crypto_news.progress" not in quiet.stderr

    dead = write_feed_list(tmp_path / "dead.yml", {"Nowhere": "http://127.0.0.1:9/feed"})
    proc = _cli(["run", "--feeds", str(dead)], env)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1].startswith("crypto-news: run failed: all 1 feeds failed")
    assert "connection" in proc.stdout


def test_cli_unreachable_database_is_one_clear_line():
    proc = _cli(["migrate"], {"CRYPTO_NEWS_DB_URL": "postgresql://u:s3cret-pw@127.0.0.1:9/none"}, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.startswith("crypto-news: cannot connect to postgresql://u:***@127.0.0.1:9/none")
    assert "s3cret-pw" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_page_whose_extraction_hangs_is_marked_timeout_and_the_rest_load(migrated_db, http_server, tmp_path,
                                                                          monkeypatch):
    """A page stuck in extraction is given up after the time limit; it keeps the feed's text with the reason
    recorded, and every other article is stored meanwhile."""
    import threading
    import time
    from concurrent.futures import ThreadPoolExecutor

    release = threading.Event()

    class StuckOnOnePage(stage_extract._Extractor):
        def __init__(self, workers):
            super().__init__(1)
            self.pool = ThreadPoolExecutor(2)

        def submit(self, body, url, content_type, packed=False, title=None, summary=None):
            def work():
                if "hashrate-record" in url:
                    release.wait(30)
                return pipeline.process_page(body, url, content_type, packed, title, summary)
            return self.pool.submit(work)

        def close(self):
            release.set()
            self.pool.shutdown(wait=True)

    monkeypatch.setattr(stage_extract, "_Extractor", StuckOnOnePage)
    monkeypatch.setattr(stage_extract, "EXTRACT_TIMEOUT_S", 1.5)
    feeds = write_feed_list(tmp_path / "feeds.yml", serve_site(http_server))
    started = time.monotonic()
    pipeline.run(migrated_db, feeds, SETTINGS)
    assert time.monotonic() - started < 25  # the stuck page did not hold the run for its 30 s

    rows = dict((r[0].split("/news/")[1], r[1:]) for r in q(
        migrated_db, "SELECT canonical_url, extract_state, extract_error_kind, text_source, extract_error FROM articles"))
    state, kind, source, error = rows.pop("hashrate-record")
    assert (state, kind, source) == ("done", "timeout", "feed_summary") and "longer than 2 s" in error
    assert len(rows) == 5 and all(r[:3] == ("done", None, "page") for r in rows.values()), rows


def test_feeds_parsed_by_worker_processes_load_the_same_as_parsed_inline(http_server, tmp_path, monkeypatch, caplog):
    """A large feed stage moves parsing to worker processes; items, skips and parse errors (raised in a worker,
    reported by the stage) come out exactly as when parsing inline."""
    from conftest import temporary_database
    from crypto_news.warehouse import migrations

    urls = serve_site(http_server)
    http_server.add("/feeds/not-a-feed.rss", b"<html><body><p>Moved to our new site.</p></body></html>",
                    headers={"Content-Type": "text/html"})
    feeds = write_feed_list(tmp_path / "feeds.yml", urls, [("not a feed", http_server.url("/feeds/not-a-feed.rss"))])
    used_pool = []
    close = stage_feeds._FeedParser.close

    def record(self):
        used_pool.append(self.pool is not None)
        close(self)

    monkeypatch.setattr(stage_feeds._FeedParser, "close", record)
    settings = Settings(allow_private_hosts="1", host_delay_s=0, retries=0, timeout_s=10, extract_workers=2)
    outcomes = []
    for pool_after in (stage_feeds._FeedParser.POOL_AFTER_S, 0.0):  # inline (a small stage), then workers at once
        monkeypatch.setattr(stage_feeds._FeedParser, "POOL_AFTER_S", pool_after)
        with temporary_database() as url:
            migrations.migrate(url)
            counts = pipeline.fetch_feeds(url, None, pipeline.sync_feeds(url, feeds), settings)
            fetches = q(url, """SELECT f.name, x.status, x.error_kind, x.items_seen, x.items_new
                                FROM feed_fetches x JOIN feeds f USING (feed_id) ORDER BY f.name""")
            items = q(url, "SELECT canonical_url, title, summary, published_at FROM articles ORDER BY canonical_url")
            outcomes.append((counts, fetches, items))
    assert used_pool == [False, True] and "worker died" not in caplog.text  # the errors crossed, no fallback
    assert outcomes[0] == outcomes[1]
    counts, fetches, items = outcomes[1]
    assert counts["ok"] == 2 and counts["error"] == 1 and len(items) == 6
    assert [f[1:3] for f in fetches if f[0] == "not a feed"] == [("error", "not_a_feed")]
