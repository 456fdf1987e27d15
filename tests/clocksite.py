"""A news site on a loopback server that publishes on a clock the test moves: article pages, an RSS feed of
the newest N articles, and optionally a Google News sitemap (the last two days), an archive sitemap index of
daily gzipped sitemaps, and robots.txt Sitemap lines. Everything served is written here, from the article
number."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from xml.sax.saxutils import escape

TOPICS = [
    ("regulators",
     "The securities regulator published a consultation on exchange licensing and custody rules."),
    ("miners", "A listed mining company reported its monthly hashrate and the energy contracts behind it."),
    ("payments", "A regional retailer said it now accepts stablecoin payments at its checkout terminals."),
    ("markets", "Trading volumes on spot venues rose while derivatives open interest stayed flat this week."),
]
FILLER = ("Analysts at the desk compared the figures with the previous quarter and noted the spread between "
          "venues. The company did not comment further on the timing. Observers expect a follow-up statement "
          "next month, once the audit of the reserve accounts is complete and the board has reviewed the "
          "numbers. ")


class ClockSite:
    """``per_day`` articles a day from ``start``; the feed shows the newest ``feed_size`` published by
    ``now``."""

    def __init__(self, server, *, per_day: int, feed_size: int, start: datetime, news_sitemap: bool = False,
                 archive: bool = False, robots_lines: bool = True, days: int = 40, slug: str = "story"):
        self.server, self.per_day, self.feed_size, self.start = server, per_day, feed_size, start
        self.news_sitemap, self.archive, self.robots_lines = news_sitemap, archive, robots_lines
        self.slug = slug
        self.now = start
        self.count = per_day * days
        self.base = server.url("").rstrip("/")
        self._route("/feed.xml", self._feed, "application/rss+xml; charset=utf-8")
        for i in range(self.count):
            self._route(self.path(i), lambda i=i: self._page(i), "text/html; charset=utf-8")
        if news_sitemap:
            self._route("/sitemap-news.xml", self._news, "application/xml")
        if archive:
            self._route("/sitemap-archive.xml", self._archive_index, "application/xml")
            for d in range(days):
                day = (start + timedelta(days=d)).date()
                self._route(f"/sitemaps/{day.isoformat()}.xml.gz", lambda day=day: self._day(day),
                            "application/gzip")
        lines = ["User-agent: *", "Disallow: /private/"]
        if robots_lines and news_sitemap:
            lines.append(f"Sitemap: {self.base}/sitemap-news.xml")
        if robots_lines and archive:
            lines.append(f"Sitemap: {self.base}/sitemap-archive.xml")
        server.add("/robots.txt", ("\n".join(lines) + "\n").encode(), headers={"Content-Type": "text/plain"})

    # -- the clock
    # ----------------------------------------------------------------------------------------------------

    def published(self, i: int) -> datetime:
        return self.start + timedelta(seconds=i * 86400 / self.per_day)

    def path(self, i: int) -> str:
        return f"/news/{self.slug}-{i:05d}"

    def url(self, i: int) -> str:
        return self.base + self.path(i)

    def visible(self) -> list[int]:
        """Articles published by now, oldest first."""
        return [i for i in range(self.count) if self.published(i) <= self.now]

    def between(self, since: datetime, until: datetime) -> list[int]:
        return [i for i in range(self.count) if since <= self.published(i) < until]

    # -- what the site serves
    # ---------------------------------------------------------------------------------------

    def _route(self, path, make, ctype):
        def handler(req):
            body = make()
            if body is None:
                req.send_response(404)
                req.send_header("Content-Length", "0")
                req.end_headers()
                return
            req.send_response(200)
            req.send_header("Content-Type", ctype)
            req.send_header("Content-Length", str(len(body)))
            req.end_headers()
            req.wfile.write(body)

        self.server.add(path, handler=handler)

    def _page(self, i: int) -> bytes | None:
        if self.published(i) > self.now:
            return None
        topic, lede = TOPICS[i % len(TOPICS)]
        when = self.published(i).isoformat()
        body = "".join(f"<p>{lede} Report number {i} of the {topic} desk. {FILLER}</p>" for _ in range(3))
        return (f"<!doctype html><html><head><title>{topic.title()} report {i}</title>"
                f'<meta property="article:published_time" content="{when}"></head><body><article>'
                f"<h1>{topic.title()} report {i}</h1>{body}</article></body></html>").encode()

    def _feed(self) -> bytes:
        shown = self.visible()[-self.feed_size:][::-1]
        items = "".join(
            f"<item><title>Report {i}</title><link>{self.url(i)}</link><guid>{self.url(i)}</guid>"
            f"<pubDate>{format_datetime(self.published(i))}</pubDate>"
            f"<description>Report {i}.</description></item>"
            for i in shown)
        return ('<?xml version="1.0" encoding="utf-8"?><rss version="2.0">'
                f"<channel><title>{self.slug}</title><link>{self.base}/</link><description>news</description>{items}</channel></rss>").encode()

    def _news(self) -> bytes:
        recent = [i for i in self.visible() if self.published(i) > self.now - timedelta(days=2)]
        urls = "".join(
            f"<url><loc>{escape(self.url(i))}</loc><news:news><news:publication><news:name>{self.slug}</news:name>"
            f"<news:language>en</news:language></news:publication>"
            f"<news:publication_date>{self.published(i).isoformat()}</news:publication_date>"
            f"<news:title>Report {i}</news:title></news:news></url>" for i in reversed(recent))
        return ('<?xml version="1.0" encoding="UTF-8"?>'
                '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
                'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">' + urls + "</urlset>").encode()

    def _archive_index(self) -> bytes:
        newest: dict = {}  # day -> its newest article's time
        for i in self.visible():
            when = self.published(i)
            newest[when.date()] = max(when, newest.get(when.date(), when))
        entries = "".join(
            f"<sitemap><loc>{self.base}/sitemaps/{d.isoformat()}.xml.gz</loc>"
            f"<lastmod>{newest[d].isoformat()}</lastmod></sitemap>" for d in sorted(newest))
        return ('<?xml version="1.0" encoding="UTF-8"?><sitemapindex '
                'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">' + entries + "</sitemapindex>").encode()

    def _day(self, day) -> bytes | None:
        shown = [i for i in self.visible() if self.published(i).date() == day]
        if not shown:
            return None
        urls = "".join(f"<url><loc>{self.url(i)}</loc>"
                       f"<lastmod>{self.published(i).isoformat()}</lastmod></url>" for i in shown)
        xml = ('<?xml version="1.0" encoding="UTF-8"?><urlset '
               'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">' + urls + "</urlset>")
        return gzip.compress(xml.encode())


def midnight_days_ago(days: int) -> datetime:
    now = datetime.now(UTC)
    return datetime(now.year, now.month, now.day, tzinfo=UTC) - timedelta(days=days)


def feed_file(path, sites: dict[str, ClockSite], extra: dict[str, dict] | None = None):
    lines = ["feeds:"]
    for name, site in sites.items():
        lines += [f"  - name: {name}", f"    url: {site.base}/feed.xml"]
        for key, value in (extra or {}).get(name, {}).items():
            lines.append(f"    {key}: {value}")
    path.write_text("\n".join(lines) + "\n")
    return path
