"""Sitemap files: bytes in, entries out (sitemaps.org urlsets and indexes, Google News sitemaps, ``.xml.gz``).

lxml parses the bytes (entities not resolved, no network, no huge trees); this module only reads the
elements the protocols define, by local name, so a sitemap with a wrong or missing namespace still reads. Gzip
is undone here with an output limit, so a compression bomb stops at the cap. Fetching and walking indexes is
:mod:`crypto_news.pipeline.sitemaps`'s job.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from lxml import etree

from ..text import LIMITS, one_line, plain_text

FUTURE_TOLERANCE = timedelta(days=1)
OLDEST_TRUSTED = datetime(1995, 1, 1, tzinfo=UTC)
_GZIP_MAGIC = b"\x1f\x8b"
_YEAR_MONTH = re.compile(r"^(\d{4})(?:-(\d{2}))?$")


class SitemapError(Exception):
    """A sitemap that cannot be read; ``kind`` names why (``sitemap_malformed``, ``sitemap_too_large``,
    ...)."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind
        self.message = message


@dataclass(frozen=True)
class SitemapEntry:
    loc: str
    date: datetime | None  # news:publication_date, else lastmod (UTC); None when absent or not trustworthy
    title: str | None = None  # news:title
    news: bool = False  # the date is a publication date (news sitemap), not a modification time


@dataclass
class Sitemap:
    kind: str  # "index" (entries are sitemaps) or "urlset" (entries are pages)
    entries: list[SitemapEntry]
    bad_dates: int = 0  # dates present but unparsable, implausibly old or in the future
    truncated: bool = False  # more than max_entries entries: the first ones were kept


def gunzip_bounded(body: bytes, limit: int) -> bytes:
    """Undo gzip when the body is gzip (by its magic bytes, whatever the name or type says), never producing
    more than ``limit`` bytes."""
    if not body.startswith(_GZIP_MAGIC):
        return body
    d = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = d.decompress(body, limit + 1)
    except zlib.error as exc:
        raise SitemapError("sitemap_malformed", f"broken gzip data: {exc}") from None
    if len(out) > limit:
        raise SitemapError("sitemap_too_large", f"gzip data decompresses to more than {limit} bytes")
    if not d.eof:
        raise SitemapError("sitemap_malformed", "gzip data ends before its end (truncated)")
    return out


def parse_date(value: str | None, now: datetime | None = None) -> tuple[datetime | None, bool]:
    """A W3C datetime (``YYYY``, ``YYYY-MM``, ``YYYY-MM-DD`` or a full date and time) as UTC, and whether a
    value was there but could not be trusted (unparsable, before 1995, or more than a day in the future)."""
    s = (value or "").strip()
    if not s:
        return None, False
    when = None
    m = _YEAR_MONTH.match(s)
    if m:
        try:
            when = datetime(int(m.group(1)), int(m.group(2) or 1), 1, tzinfo=UTC)
        except ValueError:
            return None, True
    else:
        if s.endswith(("Z", "z")):
            s = s[:-1] + "+00:00"
        s = re.sub(r"([+-]\d\d)(\d\d)$", r"\1:\2", s)
        try:
            when = datetime.fromisoformat(s)
        except ValueError:
            return None, True
        when = (when if when.tzinfo else when.replace(tzinfo=UTC)).astimezone(UTC)
    now = now or datetime.now(UTC)
    if when > now + FUTURE_TOLERANCE or when < OLDEST_TRUSTED:
        return None, True
    return when, False


def _local(tag) -> str:
    return etree.QName(tag).localname if isinstance(tag, str) else ""


def _child_text(el, name: str) -> str | None:
    for child in el:
        if _local(child.tag) == name:
            return (child.text or "").strip() or None
    return None


def parse_sitemap(body: bytes, max_entries: int, now: datetime | None = None) -> Sitemap:
    """Parse one sitemap file (gzip undone beforehand). At most ``max_entries`` entries are kept (the first
    ones, ``truncated`` says when there were more)."""
    body = body.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not body.startswith(b"<"):
        raise SitemapError("sitemap_malformed", "not an XML sitemap (the body does not start with '<')")
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, remove_comments=True,
                             remove_pis=True, load_dtd=False)
    try:
        root = etree.fromstring(body, parser)
    except etree.XMLSyntaxError as exc:
        message = one_line(f"malformed XML: {exc}", 300) or "malformed XML"
        raise SitemapError("sitemap_malformed", message) from None
    top = _local(root.tag)
    if top == "sitemapindex":
        kind, item = "index", "sitemap"
    elif top == "urlset":
        kind, item = "urlset", "url"
    else:
        raise SitemapError("sitemap_malformed",
                           f"root element <{top}> is neither <urlset> nor <sitemapindex>")
    out = Sitemap(kind=kind, entries=[])
    for el in root:
        if _local(el.tag) != item:
            continue
        if len(out.entries) >= max_entries:
            out.truncated = True
            break
        entry, bad = _entry(el, now)
        out.bad_dates += bad
        if entry is not None:
            out.entries.append(entry)
    return out


def _entry(el, now: datetime | None) -> tuple[SitemapEntry | None, bool]:
    """One <url> or <sitemap> element as an entry (None without a <loc>), and whether a date was
    untrustworthy. The news title is made plain text: lxml has decoded its entities, so an escaped
    ``&lt;script&gt;`` would otherwise come out as live markup."""
    loc = _child_text(el, "loc")
    if not loc:
        return None, False
    news_date, title = None, None
    for child in el:
        if _local(child.tag) == "news":
            news_date = _child_text(child, "publication_date")
            title = plain_text(_child_text(child, "title"), LIMITS["title"])
    date, bad = parse_date(news_date, now) if news_date else (None, False)
    news = date is not None
    if date is None:
        date, bad_lastmod = parse_date(_child_text(el, "lastmod"), now)
        bad = bad or bad_lastmod
    return SitemapEntry(loc=loc, date=date, title=title, news=news), bad
