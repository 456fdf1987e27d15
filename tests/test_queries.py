"""Every analyst query in sql/queries/ run as-is through psql on a database loaded by the real pipeline.

The fixture site is loaded twice (the second run gets 304s), publication times are moved to recent days relative to
now(), and a few rows are added (a copy of one story under another URL, an old story, a failing feed) so that every
query has rows to return and rows it must leave out.
"""

from __future__ import annotations

import csv
import io
import shutil
import subprocess
import tempfile
from collections import defaultdict
from datetime import timedelta, timezone
from pathlib import Path

import psycopg2
import pytest
from conftest import LoopbackServer, group_login, temporary_database
from sitekit import serve_site, write_feed_list

from crypto_news import pipeline
from crypto_news.config import Settings
from conftest import query as _execute

ROOT = Path(__file__).resolve().parents[1]
QUERIES = ROOT / "sql" / "queries"
SETTINGS = Settings(allow_private_hosts="1", host_delay_s=0, retries=0, timeout_s=10, extract_workers=1)
# days before now() at which each fixture story is made "published"
AGE_DAYS = {"price-falls": 1, "china-blockchain-mining-ban": 2, "sec-sues-exchange": 3, "el-salvador-buys-btc": 5,
            "hashrate-record": 10, "defi-exploit": 40}
LABELS = {"price-falls": set(), "china-blockchain-mining-ban": {"regulation", "adoption", "mining"},
          "sec-sues-exchange": {"regulation"}, "el-salvador-buys-btc": {"adoption"}, "hashrate-record": {"mining"},
          "defi-exploit": set(), "copy": {"regulation"}, "old": {"regulation"}}




def _add_rows(url) -> dict:
    conn = psycopg2.connect(url, options="-c search_path=crypto_news")
    ids = {}
    with conn, conn.cursor() as cur:
        for slug, days in AGE_DAYS.items():
            cur.execute("UPDATE articles SET published_at = now() - make_interval(days => %s) "
                        "WHERE canonical_url LIKE %s RETURNING article_id", (days, "%/news/" + slug))
            ids[slug] = cur.fetchone()[0]
        cur.execute("SELECT feed_id FROM feeds WHERE name = %s", ("chainpost.atom",))
        chainpost = cur.fetchone()[0]
        # the China story again, word for word, on a mirror site carried by the other feed
        cur.execute(
            """INSERT INTO articles (canonical_url, url, feed_id, title, summary, published_at, published_source,
                                     extract_state, text, text_source, word_count, content_hash, extracted_at)
               SELECT 'https://mirror.example/china-copy', 'https://mirror.example/china-copy', %s,
                      'Mirror: China keeps its mining ban', summary, published_at, 'feed', 'done', text, 'page',
                      word_count, content_hash, now()
               FROM articles WHERE article_id = %s RETURNING article_id""",
            (chainpost, ids["china-blockchain-mining-ban"]),
        )
        ids["copy"] = cur.fetchone()[0]
        # an old regulation story about China, outside the 30-day window
        cur.execute(
            """INSERT INTO articles (canonical_url, url, feed_id, title, published_at, discovered_at)
               VALUES ('https://old.example/china-2026', 'https://old.example/china-2026', %s,
                       'China tightens exchange rules', now() - interval '60 days', now() - interval '60 days')
               RETURNING article_id""",
            (chainpost,),
        )
        ids["old"] = cur.fetchone()[0]
        for key in ("copy", "old"):
            cur.execute("INSERT INTO article_sources (article_id, feed_id, item_url) VALUES (%s, %s, %s)",
                        (ids[key], chainpost, f"https://example.org/{key}"))
            cur.execute("INSERT INTO article_classifications (article_id, classifier_version, scores) "
                        "VALUES (%s, 'test', '{\"regulation\": 0.9, \"adoption\": 0.1, \"mining\": 0.2}')", (ids[key],))
            cur.execute("INSERT INTO article_labels (article_id, label, score, classifier_version) "
                        "VALUES (%s, 'regulation', 0.9, 'test')", (ids[key],))
            cur.execute("INSERT INTO article_entities (article_id, kind, entity_id, name, mentions) "
                        "VALUES (%s, 'jurisdiction', 'CN', 'China', 2)", (ids[key],))
        # a feed that worked three days ago and has failed twice since
        cur.execute("INSERT INTO feeds (url, name) VALUES ('http://dead.example/rss', 'deadfeed') RETURNING feed_id")
        dead = cur.fetchone()[0]
        for days, status, kind in ((3, "ok", None), (2, "error", "dns"), (1, "error", "timeout")):
            cur.execute(
                """INSERT INTO feed_fetches (feed_id, started_at, duration_ms, status, http_status, error_kind, error)
                   VALUES (%s, now() - make_interval(days => %s), 100, %s, %s, %s, %s)""",
                (dead, days, status, 200 if status == "ok" else None, kind, kind and f"{kind} failure"),
            )
    conn.close()
    return ids


@pytest.fixture(scope="module")
def loaded():
    assert shutil.which("psql"), "psql is needed to run sql/queries/*.sql"
    server = LoopbackServer()
    try:
        with temporary_database() as url, tempfile.TemporaryDirectory() as tmp:
            feeds = write_feed_list(Path(tmp) / "feeds.yml", serve_site(server))
            assert pipeline.run(url, feeds, SETTINGS)["status"] == "success"
            assert pipeline.run(url, feeds, SETTINGS)["status"] == "success"  # every feed answers 304
            ids = _add_rows(url)
            _execute(url, "SELECT crypto_news_marts.refresh_aggregates()")  # as the next classification stage would
            yield url, ids
    finally:
        server.close()


def psql(url, name, **variables) -> list[dict]:
    cmd = ["psql", "-X", "-v", "ON_ERROR_STOP=1", "--csv", "-d", url, "-f", str(QUERIES / name)]
    for key, value in variables.items():
        cmd[1:1] = ["-v", f"{key}={value}"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return list(csv.DictReader(io.StringIO(proc.stdout)))


def test_regulation_by_country(loaded):
    url, ids = loaded
    rows = psql(url, "regulation_by_country.sql")
    # the copy has the same time as the original and the higher id; the 60-day-old story is left out
    assert [int(r["article_id"]) for r in rows] == [ids["copy"], ids["china-blockchain-mining-ban"]]
    assert rows[1]["source"] == "ledgerwire.rss" and float(rows[1]["regulation_score"]) > 0.5
    rows = psql(url, "regulation_by_country.sql", country="US")
    assert [int(r["article_id"]) for r in rows] == [ids["sec-sues-exchange"]]
    assert len(psql(url, "regulation_by_country.sql", days=90)) == 3


def test_label_daily_counts(loaded):
    url, ids = loaded
    rows = psql(url, "label_daily_counts.sql")
    assert len(rows) == 31 * 3  # zero-filled: 31 days x 3 labels
    days = {slug: d for slug, d in _execute(url, "SELECT article_id, (published_at AT TIME ZONE 'UTC')::date "
                                                 "FROM articles")}
    expected = defaultdict(int)
    for slug, article_id in ids.items():
        if slug in ("old", "defi-exploit"):
            continue
        for label in LABELS[slug]:
            expected[(days[article_id].isoformat(), label)] += 1
    got = {(r["day"], r["label"]): int(r["articles"]) for r in rows if int(r["articles"])}
    assert got == dict(expected)
    assert got[(days[ids["china-blockchain-mining-ban"]].isoformat(), "regulation")] == 2


def test_top_sources_per_label(loaded):
    url, _ = loaded
    rows = [(r["label"], int(r["rank"]), r["source"], int(r["articles"]), r["pct_of_label"])
            for r in psql(url, "top_sources_per_label.sql")]
    assert rows == [("adoption", 1, "ledgerwire.rss", 2, "100.0"), ("mining", 1, "ledgerwire.rss", 2, "100.0"),
                    ("regulation", 1, "chainpost.atom", 2, "50.0"), ("regulation", 1, "ledgerwire.rss", 2, "50.0")]


def test_search_fulltext(loaded):
    url, ids = loaded
    rows = psql(url, "search_fulltext.sql")
    assert {int(r["article_id"]) for r in rows[:2]} == {ids["china-blockchain-mining-ban"], ids["copy"]}
    assert all("<b>" in r["snippet"] and "\n" not in r["snippet"] for r in rows)
    assert "<b>mining</b> <b>ban</b>" in rows[0]["snippet"]
    assert [float(r["rank"]) for r in rows] == sorted((float(r["rank"]) for r in rows), reverse=True)
    rows = psql(url, "search_fulltext.sql", q='"securities exchange" -hashrate')
    assert int(rows[0]["article_id"]) == ids["sec-sues-exchange"]


def test_top_assets_in_adoption(loaded):
    url, _ = loaded
    rows = psql(url, "top_assets_in_adoption.sql")
    assert [(r["asset"], r["asset_name"], int(r["articles"])) for r in rows] == [("BTC", "Bitcoin", 2)]
    assert int(rows[0]["mentions"]) >= 2


def test_feed_freshness(loaded):
    url, _ = loaded
    rows = psql(url, "feed_freshness.sql")
    assert [r["feed_name"] for r in rows][0] == "deadfeed"
    dead = rows[0]
    assert (dead["last_status"], dead["last_error_kind"], dead["consecutive_failures"], dead["is_stale"]) == \
        ("error", "timeout", "2", "t")
    assert 71 <= float(dead["hours_since_success"]) <= 73
    others = {r["feed_name"]: r for r in rows[1:]}
    assert set(others) == {"chainpost.atom", "ledgerwire.rss"}
    for r in others.values():
        assert (r["last_status"], r["consecutive_failures"], r["is_stale"]) == ("not_modified", "0", "f")
        assert r["not_modified_ratio_30d"] == "0.50"  # first run 200, second run 304
    assert others["ledgerwire.rss"]["articles_total"] == "4"
    assert others["chainpost.atom"]["articles_total"] == "5"  # 3 from its feed, plus the copy and the old story


def test_duplicate_coverage(loaded):
    url, ids = loaded
    rows = psql(url, "duplicate_coverage.sql")
    got = {(r["kind"], int(r["first_article_id"]), int(r["copies"])) for r in rows}
    assert got == {("several_feeds", ids["sec-sues-exchange"], 2),
                   ("same_text", ids["china-blockchain-mining-ban"], 2)}
    same = next(r for r in rows if r["kind"] == "same_text")
    assert same["sources"] == "{ledgerwire.rss,chainpost.atom}"


def test_label_share_weekly(loaded):
    url, ids = loaded
    rows = psql(url, "label_share_weekly.sql")
    published = dict(_execute(url, "SELECT article_id, published_at FROM articles"))
    expected = defaultdict(lambda: defaultdict(int))
    for slug, article_id in ids.items():
        day = published[article_id].astimezone(timezone.utc).date()
        week = day - timedelta(days=day.weekday())
        expected[week.isoformat()]["articles"] += 1
        for label in LABELS[slug]:
            expected[week.isoformat()][label] += 1
    got = {r["week"]: {k: int(r[k]) for k in ("articles", "regulation", "adoption", "mining") if int(r[k])}
           for r in rows}
    assert got == {w: dict(v) for w, v in expected.items()}
    assert sum(int(r["articles"]) for r in rows) == 8
    for r in rows:
        assert float(r["regulation_share"]) == pytest.approx(int(r["regulation"]) / int(r["articles"]), abs=1e-3)


def test_title_search(loaded):
    url, ids = loaded
    assert [int(r["article_id"]) for r in psql(url, "title_search.sql")] == [ids["hashrate-record"]]
    assert {int(r["article_id"]) for r in psql(url, "title_search.sql", term="china")} == \
        {ids["china-blockchain-mining-ban"], ids["copy"], ids["old"]}


@pytest.fixture(scope="module")
def bi_url(loaded):
    """The mart queries are run as a login in crypto_news_bi: they need nothing outside crypto_news_marts."""
    url, _ = loaded
    with group_login(url, "crypto_news_bi") as bi:
        yield bi


def test_mart_regulation_daily_by_jurisdiction(loaded, bi_url):
    url, _ = loaded
    rows = psql(bi_url, "mart_regulation_daily_by_jurisdiction.sql")
    dates = defaultdict(set)
    totals = defaultdict(int)
    for r in rows:
        dates[r["jurisdiction"]].add(r["article_date"])
        totals[r["jurisdiction"]] += int(r["articles"])
    assert {len(d) for d in dates.values()} == {31}  # zero-filled: 31 UTC dates for every jurisdiction
    expected = dict(_execute(url, """
        SELECT e.entity_id, count(*)::int FROM article_entities e
        JOIN article_labels l ON l.article_id = e.article_id AND l.label = 'regulation'
        JOIN articles a ON a.article_id = e.article_id
        WHERE e.kind = 'jurisdiction'
          AND (coalesce(a.published_at, a.discovered_at) AT TIME ZONE 'UTC')::date
              >= (now() AT TIME ZONE 'UTC')::date - 30
        GROUP BY 1"""))
    assert {k: v for k, v in totals.items() if v} == expected
    # the same articles as the base-table query (the China story and its copy; the 60-day-old one is left out)
    assert totals["CN"] == len(psql(url, "regulation_by_country.sql")) == 2
    us = psql(bi_url, "mart_regulation_daily_by_jurisdiction.sql", country="US", days=7)
    assert len(us) == 8 and sum(int(r["articles"]) for r in us) == 1 == \
        len(psql(url, "regulation_by_country.sql", country="US", days=7))


def test_mart_adoption_by_outlet(loaded, bi_url):
    rows = psql(bi_url, "mart_adoption_by_outlet.sql")
    # both fixture feeds are served from one host: one outlet; the 40- and 60-day-old stories are out of the window
    assert [(r["outlet"], int(r["adoption_articles"]), int(r["articles"]), r["adoption_share"]) for r in rows] == \
        [("127.0.0.1", 2, 6, "0.333")]
    rows = psql(bi_url, "mart_adoption_by_outlet.sql", days=90)
    assert [(int(r["adoption_articles"]), int(r["articles"])) for r in rows] == [(2, 8)]


def test_mart_mining_share_weekly(loaded, bi_url):
    url, _ = loaded
    mart = [(r["week"], int(r["articles"]), int(r["mining"]), r["mining_share"])
            for r in psql(bi_url, "mart_mining_share_weekly.sql", weeks=12)]
    base = [(r["week"], int(r["articles"]), int(r["mining"]), r["mining_share"])
            for r in psql(url, "label_share_weekly.sql", weeks=12)]
    assert mart == base and sum(m[2] for m in mart) == 2


def test_every_query_file_is_checked():
    checked = {"regulation_by_country.sql", "label_daily_counts.sql", "top_sources_per_label.sql",
               "search_fulltext.sql", "top_assets_in_adoption.sql", "feed_freshness.sql", "duplicate_coverage.sql",
               "label_share_weekly.sql", "title_search.sql", "mart_regulation_daily_by_jurisdiction.sql",
               "mart_adoption_by_outlet.sql", "mart_mining_share_weekly.sql"}
    on_disk = {p.name for p in QUERIES.glob("*.sql")}
    assert on_disk == checked, "add a test with expected rows for each new query file"
    for path in QUERIES.glob("*.sql"):
        head = path.read_text(encoding="utf-8").splitlines()[0]
        assert head.startswith("-- Question:"), path.name
