"""Sitemaps, friendly and hostile, read through the project's HTTP client over loopback: each hostile file is
bounded and named by an error kind, and what was already loaded stays."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime, timedelta

import pytest

from clocksite import ClockSite, feed_file, midnight_days_ago
from conftest import query as q
from crypto_news import pipeline
from crypto_news.config import Settings
from crypto_news.feeds.sitemaps import SitemapError, gunzip_bounded, parse_date, parse_sitemap
from crypto_news.fetch import HttpClient
from crypto_news.pipeline.sitemaps import SitemapReader, as_items

SETTINGS = Settings(allow_private_hosts="1", host_delay_s=0, retries=0, timeout_s=10, extract_workers=1,
                    sitemap_max_bytes=8 * 1024 * 1024)
NS = 'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"'


def urlset(*entries: str) -> bytes:
    return f'<?xml version="1.0" encoding="UTF-8"?><urlset {NS}>{"".join(entries)}</urlset>'.encode()


def index(*locs: str) -> bytes:
    body = "".join(f"<sitemap><loc>{loc}</loc></sitemap>" for loc in locs)
    return f'<?xml version="1.0" encoding="UTF-8"?><sitemapindex {NS}>{body}</sitemapindex>'.encode()


def walk(server, sitemaps, settings=SETTINGS, newer_than=None):
    feed = {"url": server.url("/feed.xml"), "site_url": None, "sitemaps": sitemaps, "obey_robots": True}
    with HttpClient(settings) as client:
        return SitemapReader(client, settings).walk(feed, newer_than=newer_than)


def test_news_sitemap_and_dates():
    doc = parse_sitemap(urlset(
        "<url><loc>http://127.0.0.1/a</loc><news:news xmlns:news='http://www.google.com/schemas/sitemap-news/0.9'>"
        "<news:publication_date>2026-01-02T03:04:05+01:00</news:publication_date>"
        "<news:title>A &amp; B</news:title>"
        "</news:news><lastmod>2026-02-01</lastmod></url>",
        "<url><loc>http://127.0.0.1/b</loc><lastmod>2026-01</lastmod></url>",
        "<url><loc>http://127.0.0.1/c</loc><lastmod>yesterday</lastmod></url>",
        "<url><loc>http://127.0.0.1/d</loc><lastmod>2999-01-01</lastmod></url>"), 100)
    a, b, c, d = doc.entries
    assert (a.date, a.title, a.news) == (datetime(2026, 1, 2, 2, 4, 5, tzinfo=UTC), "A & B", True)
    assert b.date == datetime(2026, 1, 1, tzinfo=UTC) and not b.news
    assert c.date is None and d.date is None and doc.bad_dates == 2
    assert parse_date("1990-01-01") == (None, True) and parse_date("") == (None, False)


def test_gzip_is_undone_with_a_cap():
    assert gunzip_bounded(gzip.compress(b"<urlset/>"), 100) == b"<urlset/>"
    bomb = gzip.compress(b"\0" * (50 * 1024 * 1024))
    assert len(bomb) < 100_000
    try:
        gunzip_bounded(bomb, 1024 * 1024)
    except SitemapError as exc:
        assert exc.kind == "sitemap_too_large"
    else:
        raise AssertionError("a gzip bomb was decompressed")


def test_entities_are_not_expanded():
    body = (b'<?xml version="1.0"?><!DOCTYPE u [<!ENTITY a "aaaaaaaaaa">'
            b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">'
            b'<!ENTITY x SYSTEM "file:///etc/passwd">]>'
            b'<urlset><url><loc>http://127.0.0.1/&b;&x;</loc></url></urlset>')
    # neither expanded nor read
    assert [e.loc for e in parse_sitemap(body, 10).entries] == ["http://127.0.0.1/"]


def test_hostile_sitemaps_are_bounded_and_named(make_server):
    site = make_server("127.0.0.2")
    other = make_server("127.0.0.3")
    now = datetime.now(UTC) - timedelta(hours=1)
    good = urlset(f"<url><loc>{site.url('/news/ok')}</loc><lastmod>{now.isoformat()}</lastmod></url>",
                  f"<url><loc>{other.url('/news/elsewhere')}</loc><lastmod>{now.isoformat()}</lastmod></url>")
    site.add("/good.xml", good)
    other.add("/child.xml", good)
    site.add("/huge-index.xml", index(*(site.url(f"/part-{i}.xml") for i in range(100_000))))
    site.add("/loop.xml", index(site.url("/loop.xml"), site.url("/good.xml")))
    site.add("/bomb.xml.gz", gzip.compress(b"<urlset>" + b" " * (30 * 1024 * 1024) + b"</urlset>"),
             headers={"Content-Type": "application/gzip"})
    site.add("/foreign.xml", index(other.url("/child.xml")))
    site.add("/broken.xml", b'<?xml version="1.0"?><urlset><url><loc>http://127.0.0.2/x</loc></urlset')
    site.add("/dates.xml",
             urlset(f"<url><loc>{site.url('/news/when')}</loc><lastmod>3026-13-45</lastmod></url>"))
    site.add("/deep.xml", index(site.url("/deep2.xml")))
    site.add("/deep2.xml", index(site.url("/deep3.xml")))
    site.add("/deep3.xml", index(site.url("/deep4.xml")))
    site.add("/deep4.xml", index(site.url("/good.xml")))

    cases = {
        "/huge-index.xml": "sitemap_too_many",
        "/loop.xml": "sitemap_loop",
        "/bomb.xml.gz": "sitemap_too_large",
        "/foreign.xml": "sitemap_foreign_host",
        "/broken.xml": "sitemap_malformed",
        "/dates.xml": "sitemap_bad_dates",
        "/deep.xml": "sitemap_too_deep",
        "/good.xml": "sitemap_foreign_host",  # its page on another host is left out
    }
    for path, kind in cases.items():
        found = walk(site, [site.url(path)])
        assert found.error_kind == kind, (path, found.error_kind, found.error)
        assert found.read <= SETTINGS.sitemap_max_files
        assert set(found.entries) <= {site.url("/news/ok"), site.url("/news/when")}, path
    assert walk(site, [site.url("/loop.xml")]).read == 2  # the loop is read once, then the good child
    assert set(walk(site, [site.url("/loop.xml")]).entries) == {site.url("/news/ok")}
    assert as_items(walk(site, [site.url("/dates.xml")]).entries) == []  # undated: never loaded

    # a sitemap on an address the guard refuses: the client never connects
    guarded = Settings(allow_private_hosts="127.0.0.2", host_delay_s=0, retries=0, timeout_s=10)
    found = walk(site, [other.url("/child.xml")], settings=guarded)
    assert found.error_kind == "sitemap_blocked" and not found.entries
    assert not any(r[1] == "/child.xml" for r in other.requests)


def test_a_hostile_sitemap_is_recorded_on_the_fetch_and_loses_nothing(migrated_db, make_server, tmp_path):
    start = midnight_days_ago(6)
    server = make_server("127.0.0.2")
    site = ClockSite(server, per_day=48, feed_size=20, start=start, news_sitemap=True, robots_lines=False,
                     slug="mixed")
    server.add("/loop.xml", index(server.url("/loop.xml")))
    lists = f"[{server.url('/loop.xml')}, {server.url('/sitemap-news.xml')}]"
    feeds = feed_file(tmp_path / "feeds.yml", {"Mixed": site}, {"Mixed": {"sitemaps": lists}})

    site.now = start + timedelta(days=1, seconds=-1)
    pipeline.run(migrated_db, feeds, SETTINGS)
    before = q(migrated_db, "SELECT count(*) FROM articles")[0][0]
    site.now = start + timedelta(days=2, seconds=-1)
    summary = pipeline.run(migrated_db, feeds, SETTINGS)

    feed = summary["feeds"][0]
    got = (feed["status"], feed["sitemap_error_kind"], feed["items_backfilled"])
    assert got == ("ok", "sitemap_loop", 28)
    assert q(migrated_db, "SELECT sitemap_error_kind, sitemaps_read FROM feed_fetches ORDER BY fetch_id") == [
        ("sitemap_loop", 2), ("sitemap_loop", 2)]
    assert before == 48 and q(migrated_db, "SELECT count(*) FROM articles") == [(96,)]


@pytest.mark.parametrize("entry, shown", [
    ("sitemaps: ['javascript:alert(1)']", "javascript"),
    ("sitemaps: ['ftp://127.0.0.2/sitemap.xml']", "ftp"),
    ("sitemaps: ['http://user:s3cret-pw@127.0.0.2/sitemap.xml']", "user info"),
    ("sitemaps: ['http://:s3cret-pw@127.0.0.2/sitemap.xml']", "user info"),
    ("sitemaps: [{a: 1}]", "dict"),
    ("sitemaps: 'http://127.0.0.2/sitemap.xml'", "str"),
])
def test_feed_file_sitemaps_are_http_urls_without_user_info(tmp_path, entry, shown):
    """The feed file's sitemaps pass the checks of its site: http(s) only and no user info (sitemap requests
    carry no credentials, and the URL is stored and shown); the message names the file and the entry, never a
    password."""
    from crypto_news.feeds.feedlist import FeedListError, load_feed_list

    path = tmp_path / "feeds.yml"
    path.write_text("feeds:\n  - name: Fine\n    url: https://127.0.0.2/feed.xml\n"
                    f"  - name: Second\n    url: https://127.0.0.3/feed.xml\n    {entry}\n")
    with pytest.raises(FeedListError) as err:
        load_feed_list(path)
    message = str(err.value)
    assert str(path) in message and "feed #2" in message and "'sitemaps'" in message and shown in message
    assert "s3cret-pw" not in message


def test_feed_file_sitemaps_are_kept_as_checked_urls(tmp_path):
    from crypto_news.feeds.feedlist import load_feed_list

    path = tmp_path / "feeds.yml"
    path.write_text("feeds:\n  - name: Fine\n    url: https://127.0.0.2/feed.xml\n"
                    "    sitemaps: ['HTTPS://127.0.0.2/news-sitemap.xml',\n"
                    "               ' http://127.0.0.2/archive.xml ']\n")
    (spec,) = load_feed_list(path)
    assert spec.sitemaps == ("https://127.0.0.2/news-sitemap.xml", "http://127.0.0.2/archive.xml")


def test_sitemap_urls_with_user_info_are_not_requested_and_titles_are_plain_text(make_server):
    """A robots.txt Sitemap line or an index entry with user info is refused (no request, no credentials sent,
    no password in the recorded problem); page URLs lose their user info as feed links do; a news title whose
    markup was escaped does not come out as markup."""
    site = make_server("127.0.0.2")
    when = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    with_info = site.url("/creds.xml").replace("http://", "http://user:s3cret-pw@")
    site.add("/robots.txt", f"User-agent: *\nAllow: /\nSitemap: {with_info}\n".encode(),
             headers={"Content-Type": "text/plain"})
    site.add("/creds.xml", urlset())
    site.add("/index.xml", index(with_info, site.url("/news.xml")))
    page = site.url("/news/one").replace("http://", "http://user:s3cret-pw@")
    site.add("/news.xml", urlset(
        f"<url><loc>{page}</loc><news:news xmlns:news='http://www.google.com/schemas/sitemap-news/0.9'>"
        f"<news:publication_date>{when}</news:publication_date>"
        "<news:title>&lt;img src=x onerror=alert(1)&gt;Rates held &amp;lt;b&amp;gt;steady</news:title>"
        "</news:news></url>"))

    found = walk(site, [site.url("/index.xml")])
    assert found.error_kind == "sitemap_bad_url" and "s3cret-pw" not in (found.error or "")
    assert not any(path == "/creds.xml" for _, path, _ in site.requests)
    assert not any(k.lower() == "authorization" for _, _, headers in site.requests for k in headers)
    (item,) = as_items(found.entries)
    assert item.url == item.canonical_url == site.url("/news/one")
    assert item.title and "<" not in item.title and "onerror" not in item.title
    assert item.title.split() == ["Rates", "held", "steady"]
