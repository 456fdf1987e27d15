"""Page metadata from its markup: Open Graph and article meta tags, JSON-LD, <title>, <html lang>, dates."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

from ..text import sanitise
from .checks import page_title
from .result import PageResult
from .settings import EARLIEST_TRUSTED, FUTURE_TOLERANCE

# meta tags carrying a publication timestamp, by their property or name (or itemprop), in order of preference
_DATE_METAS = ("article:published_time", "itemprop:datepublished", "parsely-pub-date", "sailthru.date")


def parse_datetime(value) -> datetime | None:
    """An ISO 8601 (or YYYY-MM-DD) string as a tz-aware UTC datetime; naive values are taken as UTC."""
    if not value:
        return None
    s = str(value).strip()
    if s.endswith(("Z", "z")):
        s = s[:-1] + "+00:00"
    s = re.sub(r"([+-]\d\d)(\d\d)$", r"\1:\2", s)  # +0000 -> +00:00
    try:
        dt = datetime.fromisoformat(s)
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=UTC)
        return dt.astimezone(UTC)
    except (ValueError, OverflowError):  # 0001-01-01T00:00:00+14:00 is before year 1 in UTC: no date, not an error
        return None


def trusted_date(dt: datetime | None, now: datetime | None = None) -> datetime | None:
    """The date itself when it is plausible for a publication date, else None."""
    if dt is None:
        return None
    now = now or datetime.now(UTC)
    if dt > now + FUTURE_TOLERANCE or dt < EARLIEST_TRUSTED:
        return None
    return dt


def _jsonld_docs(tree) -> list:
    """The page's JSON-LD objects (at most 10 scripts), parsed once."""
    docs = []
    for script in tree.xpath('//script[@type="application/ld+json"]/text()')[:10]:
        try:
            docs.append(json.loads(script))
        except (ValueError, RecursionError):
            continue
    return docs


def _jsonld_values(docs: list, key: str) -> list:
    found = []

    def walk(obj, depth=0):
        if depth > 6:
            return
        if isinstance(obj, dict):
            if key in obj:
                found.append(obj[key])
            for v in obj.values():
                if isinstance(v, (dict, list)):
                    walk(v, depth + 1)
        elif isinstance(obj, list):
            for v in obj:
                walk(v, depth + 1)

    for doc in docs:
        walk(doc)
    return found


def _page_timestamp(tree, docs: list, metas: dict[str, list[str]]) -> datetime | None:
    """Full publication timestamp from JSON-LD, article meta tags or <time itemprop> (these carry a time of day)."""
    candidates = [v for v in _jsonld_values(docs, "datePublished") if isinstance(v, str)]
    for key in _DATE_METAS:
        candidates.extend(metas.get(key, ()))
    candidates.extend(t.get("datetime") for t in tree.iter("time") if t.get("itemprop") == "datePublished")
    for value in candidates:
        dt = trusted_date(parse_datetime(value))
        if dt is not None:
            return dt
    return None


def _page_lang(tree, doc_lang: str | None) -> str | None:
    for xp in (
        "/html/@lang",
        "/html/@xml:lang",
        '//meta[@http-equiv="content-language" or @http-equiv="Content-Language"]/@content',
        '//meta[@property="og:locale"]/@content',
    ):
        values = tree.xpath(xp)
        if values and str(values[0]).strip():
            return str(values[0]).strip().replace("_", "-")[:35]
    return doc_lang


def _tag_list(*values) -> list[str]:
    out: list[str] = []
    for value in values:
        if not value:
            continue
        items = value if isinstance(value, (list, tuple)) else [value]
        for item in (part for v in items for part in str(v).split(",")):
            tag = sanitise(item)
            if tag and tag not in out:
                out.append(tag)
    return out[:50]


def _first(tree, *xpaths: str) -> str | None:
    for xp in xpaths:
        for value in tree.xpath(xp):
            value = sanitise(" ".join(str(value).split()))
            if value:
                return value
    return None


def _meta_tags(tree) -> dict[str, list[str]]:
    """<meta> contents by their property or name (lower case), and by ``itemprop:`` and their itemprop, read in one
    pass over the document's meta tags."""
    out: dict[str, list[str]] = {}
    for m in tree.iter("meta"):
        content = m.get("content")
        if not (content and content.strip()):
            continue
        key = (m.get("property") or m.get("name") or "").strip().lower()
        if key:
            out.setdefault(key, []).append(content)
        if m.get("itemprop"):
            out.setdefault("itemprop:" + m.get("itemprop").strip().lower(), []).append(content)
    return out


def _meta(metas: dict[str, list[str]], *keys: str) -> str | None:
    """The first usable content among these meta keys, in order (an author given as a URL is not a name)."""
    for key in keys:
        for content in metas.get(key, ()):
            value = sanitise(" ".join(content.split()))
            if value and not (key.endswith("author") and value.startswith("http")):
                return value
    return None


def _jsonld_name(values) -> str | None:
    names = []
    for v in values:
        for item in v if isinstance(v, list) else [v]:
            name = item.get("name") if isinstance(item, dict) else item if isinstance(item, str) else None
            if isinstance(name, str) and name.strip() and not name.startswith("http") and name not in names:
                names.append(name.strip())
    return ", ".join(names[:5]) or None


def page_metadata(tree, doc, url) -> PageResult:
    """Page metadata from its markup: Open Graph and article meta tags, JSON-LD, <title>, <html lang>.

    Read in one pass over the meta tags and a few XPath queries on the tree already parsed for the text (every
    full-document query walks the whole tree, so they are kept few); trafilatura's own metadata
    pass (with its date search) costs about a third of the extraction time for the same fields.
    """
    r = PageResult(status="ok")
    docs = _jsonld_docs(tree)
    metas = _meta_tags(tree)
    r.title = _meta(metas, "og:title", "twitter:title") or sanitise(page_title(tree)) \
        or _first(tree, "//h1//text()")
    r.author = _meta(metas, "author", "article:author", "parsely-author") \
        or _jsonld_name(_jsonld_values(docs, "author")) or _first(tree, '//a[@rel="author"]//text()')
    r.sitename = _meta(metas, "og:site_name", "application-name") or _jsonld_name(_jsonld_values(docs, "publisher"))
    r.description = _meta(metas, "description", "og:description")
    r.image = _meta(metas, "og:image", "twitter:image")
    r.lang = sanitise(_page_lang(tree, None))
    r.tags = _tag_list(metas.get("article:tag"), metas.get("article:section"), metas.get("keywords"))
    r.published = _page_timestamp(tree, docs, metas)
    return r
