"""Reading a site's sitemaps through the project's HTTP client, bounded: where the sitemaps are (robots.txt
``Sitemap:`` lines of the feed's host and its site, and the feed's own ``sitemaps:`` list), and a walk through
indexes and urlsets that stops at a depth, a number of files and a size, never reads a file twice (loops),
never follows a child sitemap to another host, and keeps only pages on the site's hosts.

Used by the catch-up of every feed fetch (:mod:`.stage_feeds`) and by the backfill of past days
(:mod:`.stage_backfill`). One :class:`SitemapReader` per HTTP client: the feeds of one site read its sitemaps
once.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace
from datetime import datetime
from urllib.parse import urlsplit

from ..config import Settings
from ..feeds.sitemaps import Sitemap, SitemapEntry, SitemapError, gunzip_bounded, parse_sitemap
from ..feeds.urls import canonical_url, link_problem
from ..fetch import FetchError, HttpClient
from ..model import FeedItem
from ..text import http_url

ACCEPT = "application/xml, text/xml;q=0.9, application/x-gzip;q=0.8, */*;q=0.5"


def host_of(url: str | None) -> str:
    try:
        host = (urlsplit(url or "").hostname or "").rstrip(".").lower()
    except ValueError:
        return ""
    return host[4:] if host.startswith("www.") else host


@dataclass
class Walk:
    """What one walk found: page entries (each canonical URL once), files read, and the first problem met."""

    entries: dict[str, SitemapEntry] = field(default_factory=dict)  # canonical URL -> entry
    read: int = 0
    roots: list[str] = field(default_factory=list)
    error_kind: str | None = None
    error: str | None = None
    problems: int = 0

    def problem(self, kind: str, message: str) -> None:
        self.problems += 1
        if self.error_kind is None:
            self.error_kind, self.error = kind, message


class SitemapReader:
    """Fetches and parses sitemap files for one run; a file is fetched at most once per reader
    (thread-safe)."""

    def __init__(self, client: HttpClient, settings: Settings | None = None):
        self.client = client
        self.settings = settings or client.settings
        self._files: dict[str, tuple[threading.Lock, list]] = {}
        self._lock = threading.Lock()

    def roots(self, feed: dict) -> tuple[list[str], list[tuple[str, str]]]:
        """The feed's root sitemaps (its own list first, then robots.txt of its host and its site), and the
        problems met finding them."""
        found, problems = list(feed.get("sitemaps") or []), []
        for base in dict.fromkeys(u for u in (feed.get("url"), feed.get("site_url")) if u):
            try:
                found.extend(self.client.robots_sitemaps(base))
            except FetchError as exc:
                problems.append((f"sitemap_{exc.kind}", str(exc)))
        return list(dict.fromkeys(u.strip() for u in found if u and u.strip())), problems

    def walk(self, feed: dict, newer_than: datetime | None = None, max_files: int | None = None) -> Walk:
        """Read the feed's sitemaps. Child sitemaps of an index whose ``lastmod`` is before ``newer_than``
        are not read (nothing in them changed since then). Pages on hosts other than the feed's, its site's
        and the root sitemap's are left out. At most ``max_files`` files (default ``sitemap_max_files``)."""
        out = Walk()
        roots, problems = self.roots(feed)
        out.roots = roots
        for kind, message in problems:
            out.problem(kind, message)
        site_hosts = {host_of(feed.get("url")), host_of(feed.get("site_url"))} - {""}
        seen: set[str] = set()
        obey = bool(feed.get("obey_robots", True)) and self.settings.obey_robots
        budget = max_files or self.settings.sitemap_max_files
        stack: list[tuple[str, int, str | None]] = [(r, 0, None) for r in reversed(roots)]
        while stack:
            url, depth, parent_host = stack.pop()
            if not self._may_read(out, url, depth, parent_host, seen):
                continue
            if out.read >= budget:
                out.problem("sitemap_too_many",
                            f"more than {budget} sitemap files for one site; the rest not read")
                break
            seen.add(canonical_url(url))
            out.read += 1
            try:
                doc = self._file(url, obey)
            except SitemapError as exc:
                out.problem(exc.kind, f"{url}: {exc.message}")
                continue
            self._note_doc_problems(out, url, doc)
            if doc.kind == "index":
                children = [e for e in doc.entries
                            if newer_than is None or e.date is None or e.date >= newer_than]
                stack.extend((e.loc, depth + 1, host_of(url)) for e in reversed(children))
            else:
                _add_pages(out, url, doc, site_hosts | {host_of(url)})
        return out

    def _may_read(self, out: Walk, url: str, depth: int, parent_host: str | None, seen: set[str]) -> bool:
        """Whether a sitemap URL is read; a refusal is noted as a problem. A URL with user info is refused
        like any unusable one: sitemap requests carry no credentials, and the URL would be shown in fetch
        records."""
        if canonical_url(url) in seen:
            out.problem("sitemap_loop", f"{url} is listed again (a loop); read once")
        elif link_problem(url) or not _plain_http(url):
            out.problem("sitemap_bad_url", f"unusable sitemap URL {_shown(url)}: "
                                           f"{link_problem(url) or 'http(s) without user info only'}")
        elif parent_host is not None and host_of(url) != parent_host:
            out.problem("sitemap_foreign_host",
                        f"index on {parent_host} lists a sitemap on another host: {url}")
        elif depth > self.settings.sitemap_max_depth:
            out.problem("sitemap_too_deep", f"{url} is nested more than {self.settings.sitemap_max_depth} "
                                            "indexes deep; not read")
        else:
            return True
        return False

    def _note_doc_problems(self, out: Walk, url: str, doc: Sitemap) -> None:
        if doc.truncated:
            out.problem("sitemap_too_many", f"{url} has more than {self.settings.sitemap_max_entries} "
                                            "entries; the first ones were read")
        if doc.bad_dates:
            out.problem("sitemap_bad_dates", f"{url}: {doc.bad_dates} dates unparsable, too old or in the "
                                             "future (those entries count as undated)")

    def _file(self, url: str, obey_robots: bool) -> Sitemap:
        with self._lock:
            lock, slot = self._files.setdefault(url, (threading.Lock(), []))
        with lock:
            if not slot:
                try:
                    slot.append(self._load(url, obey_robots))
                except SitemapError as exc:
                    slot.append(exc)
        if isinstance(slot[0], SitemapError):
            raise slot[0]
        return slot[0]

    def _load(self, url: str, obey_robots: bool) -> Sitemap:
        limit = self.settings.sitemap_max_bytes
        try:
            resp = self.client.get(url, headers={"Accept": ACCEPT}, max_bytes=limit, obey_robots=obey_robots)
        except FetchError as exc:
            kind = "sitemap_too_large" if exc.kind == "too_large" else f"sitemap_{exc.kind}"
            raise SitemapError(kind, str(exc)) from None
        return parse_sitemap(gunzip_bounded(resp.body, limit), self.settings.sitemap_max_entries)


def _plain_http(url: str) -> bool:
    """An http(s) URL without user info (``http_url`` would silently drop user info; here it disqualifies
    the URL)."""
    try:
        return http_url(url) is not None and "@" not in urlsplit(url.strip()).netloc
    except ValueError:
        return False


def _shown(url: str) -> str:
    return "(a URL with user info)" if "@" in url else repr(url[:200])


def _add_pages(out: Walk, url: str, doc: Sitemap, allowed: set[str]) -> None:
    """A urlset's pages on the allowed hosts, each canonical URL once; a page URL must be http(s) (its user
    info, if any, is dropped as for feed item links)."""
    for e in doc.entries:
        loc = http_url(e.loc) if not link_problem(e.loc) else None
        if loc is None:
            continue
        if host_of(loc) not in allowed:
            out.problem("sitemap_foreign_host", f"{url} lists a page on another host: {loc}")
            continue
        out.entries.setdefault(canonical_url(loc), replace(e, loc=loc))


def as_items(entries, since: datetime | None = None, until: datetime | None = None,
             exclude: set[str] | frozenset = frozenset()) -> list[FeedItem]:
    """Sitemap pages dated in [since, until) (undated pages never), not in ``exclude`` (canonical URLs), as
    feed items carrying the sitemap's date and news title."""
    dated = []
    for canon, e in entries.items():
        if e.date is None or canon in exclude:
            continue
        if (since is not None and e.date < since) or (until is not None and e.date >= until):
            continue
        dated.append((e.date, FeedItem(url=e.loc, canonical_url=canon, guid=None, title=e.title, summary=None,
                                       content=None, author=None, categories=[], published_at=e.date,
                                       published_flag=None)))
    dated.sort(key=lambda pair: pair[0], reverse=True)
    return [item for _, item in dated]
