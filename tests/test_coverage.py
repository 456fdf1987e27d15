"""Coverage between runs, as a user would meet it: local sites publishing on a clock, three daily runs, gaps
in the fetch log, the sitemap catch-up, and the backfill of past days. Real HTTP over loopback, real
PostgreSQL."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta

from clocksite import ClockSite, feed_file, midnight_days_ago
from conftest import query as q
from crypto_news import pipeline
from crypto_news.config import Settings

SETTINGS = Settings(allow_private_hosts="1", host_delay_s=0, retries=0, timeout_s=10, extract_workers=1)


def _loaded(url, site: ClockSite) -> set[int]:
    rows = q(url, "SELECT canonical_url FROM articles WHERE canonical_url LIKE %s", site.base + "/news/%")
    return {int(r[0].rsplit("-", 1)[1]) for r in rows}


def test_three_daily_runs_miss_nothing_where_sitemaps_exist(migrated_db, make_server, tmp_path):
    start = midnight_days_ago(10)
    news = ClockSite(make_server("127.0.0.2"), per_day=60, feed_size=25, start=start, news_sitemap=True,
                     archive=True, slug="news")
    fast = ClockSite(make_server("127.0.0.3"), per_day=60, feed_size=25, start=start, slug="fast")
    slow = ClockSite(make_server("127.0.0.4"), per_day=5, feed_size=30, start=start, slug="slow")
    sites = {"News": news, "Fast": fast, "Slow": slow}
    feeds = feed_file(tmp_path / "feeds.yml", sites)

    summaries = []
    for day in (1, 2, 3):
        for s in sites.values():
            s.now = start + timedelta(days=day, seconds=-1)
        summaries.append(pipeline.run(migrated_db, feeds, SETTINGS))
    published = {name: set(s.visible()) for name, s in sites.items()}

    assert _loaded(migrated_db, news) == published["News"]  # 180 of 180
    assert len(published["News"]) == 180
    assert len(_loaded(migrated_db, fast)) == 75  # the feed alone: 25 a day
    assert _loaded(migrated_db, slow) == published["Slow"]

    per_feed = [{f["name"]: f for f in s["feeds"]} for s in summaries]
    assert [p["Fast"]["gap"] for p in per_feed] == [None, True, True]
    assert [p["Slow"]["gap"] for p in per_feed] == [None, False, False]
    # the feed missed items; the sitemaps did not
    assert [p["News"]["gap"] for p in per_feed] == [None, True, True]
    assert [p["News"]["items_backfilled"] for p in per_feed] == [35, 35, 35]
    assert all(p[n]["items_backfilled"] == 0 for p in per_feed for n in ("Fast", "Slow"))
    assert [s["items_backfilled"] for s in summaries] == [35, 35, 35]
    assert [s["feeds_with_gap"] for s in summaries] == [0, 2, 2]

    # the fetch log, the sources and the articles say the same
    rows = q(migrated_db, """SELECT f.name, x.gap, x.items_backfilled, x.items_dated,
                                    extract(epoch FROM x.newest_item_at - x.oldest_item_at)::float8 / 3600
                             FROM feed_fetches x JOIN feeds f USING (feed_id) ORDER BY x.fetch_id""")
    assert [(r[0], r[1], r[2]) for r in rows if r[0] == "News"] == [("News", None, 35), ("News", True, 35),
                                                                     ("News", True, 35)]
    assert {round(r[4], 1) for r in rows if r[0] == "Fast"} == {9.6}  # 24 intervals of 24 minutes
    assert q(migrated_db, """SELECT s.found_by, count(*) FROM article_sources s JOIN feeds f USING (feed_id)
WHERE f.name = 'News' GROUP BY 1 ORDER BY 1""") == [("feed", 75), ("sitemap", 105)]
    dated = q(migrated_db, """SELECT canonical_url, published_at, published_source, text_source FROM articles
a JOIN article_sources s USING (article_id) WHERE s.found_by = 'sitemap'""")
    assert len(dated) == 105
    for url, when, source, text_source in dated:
        assert when == news.published(int(url.rsplit("-", 1)[1])) and source in ("page", "sitemap")
        assert text_source == "page"  # through the same extraction as feed items
    assert q(migrated_db, """SELECT count(*) FROM articles a JOIN article_sources s USING (article_id) JOIN
article_classifications c USING (article_id) WHERE s.found_by = 'sitemap'""") == [
        (105,)]

    # feed health: window, rate and gaps
    health = {r[0]: (round(r[1], 1), round(r[2]), *r[3:]) for r in q(
        migrated_db, "SELECT feed_name, window_hours, items_per_day, gaps_7d, gaps_30d, "
                     "items_backfilled_30d, last_gap FROM v_feed_health")}
    assert health["Fast"] == (9.6, 60, 2, 2, 0, True)
    assert health["Slow"] == (67.2, 5, 0, 0, 0, False)  # all 15 articles so far, 4.8 hours apart
    assert health["News"][2:] == (2, 2, 105, True)
    env = {**os.environ, "CRYPTO_NEWS_DB_URL": migrated_db}
    proc = subprocess.run([sys.executable, "-m", "crypto_news.cli", "feeds", "--json"], capture_output=True,
                          text=True, env=env, timeout=120)
    shown = {r["feed_name"]: r for r in json.loads(proc.stdout)}
    fast = shown["Fast"]
    assert (fast["gaps_7d"], fast["gaps_30d"], round(fast["window_hours"], 1)) == (2, 2, 9.6)
    assert shown["Slow"]["gaps_30d"] == 0 and round(shown["Slow"]["items_per_day"]) == 5
    # the pace: a fast feed is due again within half its window, a slow one within a day
    pace = dict(q(migrated_db, "SELECT name, check_interval_s FROM feeds"))
    assert pace["Fast"] == int(9.6 * 3600 / 2) and pace["Slow"] == 24 * 3600

    # the BI marts carry the same coverage figures, under the marts' names
    marts = {r[0]: (round(r[1], 1), round(r[2]), *r[3:]) for r in q(
        migrated_db, """SELECT feed_name, window_hours, items_per_day, gap_count_7d, gap_count_30d,
                               backfilled_item_count_30d, is_last_fetch_gap, check_interval_s
                        FROM crypto_news_marts.dim_feeds""")}
    assert marts["Fast"] == (9.6, 60, 2, 2, 0, True, pace["Fast"])
    assert marts["Slow"] == (67.2, 5, 0, 0, 0, False, pace["Slow"])
    assert marts["News"][2:6] == (2, 2, 105, True)
    assert q(migrated_db, """SELECT feed_name, is_gap, backfilled_item_count, dated_item_count,
                                    round(window_hours::numeric, 1)::float8
                             FROM crypto_news_marts.fct_feed_fetches ORDER BY fetch_id""") == [
        (r[0], r[1], r[2], r[3], None if r[4] is None else round(r[4], 1)) for r in rows]


def test_backfill_loads_a_sites_archive_for_past_days(migrated_db, make_server, tmp_path):
    start = midnight_days_ago(30)
    site = ClockSite(make_server("127.0.0.2"), per_day=40, feed_size=20, start=start, archive=True,
                     slug="arch")
    bare = ClockSite(make_server("127.0.0.3"), per_day=10, feed_size=20, start=start, slug="bare")
    site.now = bare.now = start + timedelta(days=20)
    feeds = feed_file(tmp_path / "feeds.yml", {"Archive": site, "Bare": bare})
    since, until = start + timedelta(days=5), start + timedelta(days=12)
    lines = []

    result = pipeline.backfill(migrated_db, since, until, feeds, SETTINGS, progress=lines.append)

    wanted = set(site.between(since, until))
    assert len(wanted) == 280 and _loaded(migrated_db, site) == wanted
    by_name = {f["name"]: f for f in result["feeds"]}
    archive = by_name["Archive"]
    assert (archive["status"], archive["items_found"], archive["items_new"]) == ("ok", 280, 280)
    # day sitemaps last changed before `since` are not read: the index, 7 days in range and the 9 after (day
    # 20 has its first article)
    assert by_name["Archive"]["sitemaps_read"] == 1 + 7 + 9
    assert by_name["Bare"]["status"] == "no_archive" and "no_sitemaps" in by_name["Bare"]["errors"][0]
    assert result["articles_extracted"] == 280
    assert any("Archive: ok, 280 articles in range, 280 new" in line for line in lines)
    rows = q(migrated_db, """SELECT a.published_at, a.published_source, s.found_by, a.text_source
                             FROM articles a JOIN article_sources s USING (article_id)""")
    assert {r[2] for r in rows} == {"backfill"} and {r[3] for r in rows} == {"page"}
    assert all(since <= r[0] < until for r in rows)

    # again, through the command line: idempotent, per-feed JSON, progress on stderr
    env = {**os.environ, "CRYPTO_NEWS_DB_URL": migrated_db, "CRYPTO_NEWS_EXTRACT_WORKERS": "1"}
    proc = subprocess.run([sys.executable, "-m", "crypto_news.cli", "backfill",
                           "--since", since.date().isoformat(), "--until", until.date().isoformat(),
                           "--feeds", str(feeds), "--json"],
                          capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert [(f["name"], f["items_found"], f["items_new"]) for f in out["feeds"]] == [("Archive", 280, 0),
                                                                                    ("Bare", 0, 0)]
    assert "backfill: Archive: ok" in proc.stderr
    assert q(migrated_db, "SELECT count(*) FROM articles") == [(280,)]
