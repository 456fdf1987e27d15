"""Feed parsing: bytes and response headers in, normalised items out.

feedparser is only ever given bytes (never a URL, so it never fetches anything itself) and the response headers (for
the declared charset and the base URL). A feed that is not well-formed ("bozo") but still yields entries is accepted
and the problem kept as a warning; otherwise a :class:`FeedParseError` says what kind of failure it was.
"""

from __future__ import annotations

import calendar
import re
import threading
import time
from datetime import datetime, timezone

import feedparser
import feedparser.mixin

from ..model import EARLIEST_TRUSTED, FUTURE_TOLERANCE, FeedItem, ParsedFeed, PublishedFlag
from ..text import LIMITS, html_to_text, http_url, no_markup, one_line, plain_text, sanitise
from .pace import ttl_seconds, update_period_seconds
from .urls import canonical_url, link_problem

PARSE_ERROR_KINDS = ("empty", "not_a_feed", "malformed", "parse_timeout")
# CPU seconds one feed may take to parse (the parsing thread's own CPU time, so waiting threads do not count): a
# 10 MB feed of 100,000 short items takes about 23 s; hostile text is cut by per-field budgets long before this.
PARSE_CPU_LIMIT_S = 60.0
MAX_TAGS = 50  # categories kept per item (feedparser compares each new one with all before it)
_XML_START = re.compile(rb"^(\xef\xbb\xbf|\xff\xfe|\xfe\xff)?\s*<")
# Empty text elements that would overwrite a real one in feedparser's entry (a real publisher's items carry a full
# <description> followed by an empty <dc:description/> and <content:encoded/>; feedparser keeps the last, empty one).
_EMPTY_TEXT_ELEMENTS = re.compile(
    rb"<(dc:description|content:encoded|description|itunes:summary)\s*/>|<(dc:description|content:encoded|description"
    rb"|itunes:summary)\s*>\s*(<!\[CDATA\[\s*\]\]>)?\s*</\2\s*>"
)
_SOFT_PROBLEMS = {"NonXMLContentType", "CharacterEncodingOverride", "CharacterEncodingUnknown"}
_HTML_START = re.compile(rb"^\s*(<!--.*?-->\s*)*(<!doctype\s+html|<html|<head|<body)", re.I | re.S)
_CHARREF = re.compile(rb"&#([xX][0-9a-fA-F]+|[0-9]+);")


def _safe_charref(m: re.Match) -> bytes:
    digits = m.group(1)
    hexa = digits[:1] in (b"x", b"X")
    if len(digits) > 9:  # more than any code point needs (and too long for int() on a hostile 5 MB run)
        return b"&#xFFFD;"
    n = int(digits[1:], 16) if hexa else int(digits)
    if n == 0 or 0xD800 <= n <= 0xDFFF or n > 0x10FFFF:
        return b"&#xFFFD;"
    return m.group(0)


def neutralise_charrefs(body: bytes) -> bytes:
    """Replace numeric character references that name no character (NUL, a lone surrogate such as ``&#xD800;``,
    beyond U+10FFFF) with U+FFFD: feedparser's fallback parser raises on them and the whole feed would be lost."""
    return _CHARREF.sub(_safe_charref, body) if b"&#" in body else body


class _OverDeadline(Exception):
    pass


_deadline = threading.local()


def _check_deadline() -> None:
    limit = getattr(_deadline, "limit", None)
    if limit is not None and time.thread_time() > limit:
        raise _OverDeadline()


def _guarded(method):
    def guarded(self, *args, **kwargs):
        _check_deadline()
        return method(self, *args, **kwargs)

    guarded.__wrapped__ = method  # type: ignore[attr-defined]
    return guarded


def _add_tag_capped(self, term, scheme, label):
    """feedparser's ``_add_tag`` compares each new category with every one before it (quadratic: 40,000 categories
    took 37 s); past MAX_TAGS per item, categories are ignored."""
    if len(self._get_context().get("tags") or ()) >= MAX_TAGS:
        return
    _ADD_TAG(self, term, scheme, label)


def _install_guards() -> None:
    """The parser's element and text callbacks check the parsing thread's CPU deadline (set only while
    :func:`parse_feed` runs), and categories are capped per item."""
    mixin = feedparser.mixin._FeedParserMixin
    for name in ("unknown_starttag", "unknown_endtag", "handle_data"):
        if not hasattr(getattr(mixin, name), "__wrapped__"):
            setattr(mixin, name, _guarded(getattr(mixin, name)))
    mixin._add_tag = _add_tag_capped


_ADD_TAG = feedparser.mixin._FeedParserMixin._add_tag
_install_guards()


class FeedParseError(Exception):
    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind
        self.message = message

    def __reduce__(self):  # raised in a parsing worker process, re-raised in the caller
        return (FeedParseError, (self.kind, self.message))


def _entry_date(entry, now: datetime) -> tuple[datetime | None, PublishedFlag | None]:
    raw = entry.get("published") or entry.get("updated") or entry.get("created")
    parsed = entry.get("published_parsed") or entry.get("updated_parsed") or entry.get("created_parsed")
    if parsed is None:
        return None, ("unparsable" if raw else "missing")
    try:
        when = datetime.fromtimestamp(calendar.timegm(parsed), tz=timezone.utc)
    except (OverflowError, ValueError, OSError):
        return None, "unparsable"
    if when > now + FUTURE_TOLERANCE:
        return None, "future"
    if when < EARLIEST_TRUSTED:
        return None, "too_old"
    return when, None


def _content_text(entry) -> str | None:
    best = None
    for c in entry.get("content") or []:
        value = c.get("value") or ""
        if best is None or len(value) > len(best):
            best = value
    return html_to_text(best, LIMITS["feed_content"]) if best else None


def _author(entry) -> str | None:
    authors = [a["name"][: 4 * LIMITS["author"]] for a in (entry.get("authors") or [])[:MAX_TAGS]
               if isinstance(a, dict) and isinstance(a.get("name"), str) and a.get("name")]
    return plain_text(", ".join(dict.fromkeys(authors)) if authors else entry.get("author"), LIMITS["author"])


def _categories(entry) -> list[str]:
    out: dict[str, None] = {}
    for t in (entry.get("tags") or [])[:MAX_TAGS]:
        term = plain_text(t.get("term") or t.get("label"), LIMITS["category"])
        if term:
            out[term] = None
    return list(out)


def parse_feed(body: bytes, headers: dict[str, str] | None = None, url: str | None = None,
               now: datetime | None = None, max_items: int | None = None,
               cpu_limit_s: float = PARSE_CPU_LIMIT_S) -> ParsedFeed:
    """Parse one fetched feed; raise FeedParseError('empty' | 'not_a_feed' | 'malformed') when it yields nothing,
    and FeedParseError('parse_timeout') when parsing takes more than ``cpu_limit_s`` seconds of CPU.

    At most ``max_items`` entries are normalised (the first ones, in feed order: feeds list the newest first);
    the rest are counted as skipped."""
    _deadline.limit = time.thread_time() + cpu_limit_s
    try:
        return _parse_feed(body, headers, url, now, max_items)
    except _OverDeadline:
        raise FeedParseError("parse_timeout", f"parsing took more than {cpu_limit_s:g} s of CPU") from None
    finally:
        _deadline.limit = None


def _parse_feed(body, headers, url, now, max_items) -> ParsedFeed:
    now = now or datetime.now(timezone.utc)
    if not body or not body.strip():
        raise FeedParseError("empty", "the response body is empty")
    hdrs = {k.lower(): v for k, v in (headers or {}).items()}
    if url and "content-location" not in hdrs:
        hdrs["content-location"] = url
    try:
        # feedparser's own HTML sanitiser and URI resolver are off: every text field is reduced to plain text here
        parsed = feedparser.parse(neutralise_charrefs(_EMPTY_TEXT_ELEMENTS.sub(b"", body)), response_headers=hdrs,
                                  sanitize_html=False, resolve_relative_uris=False)
    except _OverDeadline:
        raise
    except Exception as exc:  # noqa: BLE001 - a parser bug met by hostile input: this feed fails, not the run
        raise FeedParseError("malformed", one_line(f"the feed parser failed: {type(exc).__name__}: {exc}", 500) or "") from exc
    entries = parsed.get("entries") or []
    problem = parsed.get("bozo_exception") if parsed.get("bozo") else None
    problem_text = one_line(f"{type(problem).__name__}: {problem}", 500) if problem is not None else None
    # Content-type and charset mismatches are notes; anything else (an XML syntax error, ...) is a real defect.
    hard_problem = problem is not None and type(problem).__name__ not in _SOFT_PROBLEMS
    ctype = hdrs.get("content-type", "") or "none"
    version = parsed.get("version")
    if not entries:
        if not version:
            if _HTML_START.match(body[:4096]) or "html" in ctype.lower():
                raise FeedParseError("not_a_feed", f"got an HTML page, not a feed (content-type {ctype})")
            if hard_problem and _XML_START.match(body[:512]):
                raise FeedParseError("malformed", f"not a parseable feed: {problem_text}")
            raise FeedParseError("not_a_feed", f"no RSS, Atom, RDF or JSON feed found (content-type {ctype})")
        if hard_problem:
            raise FeedParseError("malformed", f"{version} feed with no readable items: {problem_text}")
        raise FeedParseError("empty", f"{version} feed with no items")

    items, skipped, seen = [], [], set()
    if max_items is not None and len(entries) > max_items:
        skipped.extend([f"over the per-feed cap of {max_items} items"] * (len(entries) - max_items))
        entries = entries[:max_items]
    for entry in entries:
        _check_deadline()
        link = entry.get("link")
        if not link:
            # Some feeds put the permalink only in the guid.
            guid = entry.get("id")
            if guid and entry.get("guidislink", False):
                link = guid
        link = sanitise(link)
        reason = link_problem(link)
        link = http_url(link) if not reason else None
        if reason or not link:
            skipped.append(reason or "link is not a usable http(s) URL")
            continue
        canon = canonical_url(link)
        if canon in seen:
            skipped.append("duplicate item in the same feed")
            continue
        seen.add(canon)
        published, flag = _entry_date(entry, now)
        items.append(
            FeedItem(
                url=link,
                canonical_url=canon,
                guid=no_markup(one_line(entry.get("id"), LIMITS["guid"])),
                title=plain_text(entry.get("title"), LIMITS["title"]),
                summary=html_to_text(entry.get("summary"), LIMITS["summary"]),
                content=_content_text(entry),
                author=_author(entry),
                categories=_categories(entry),
                published_at=published,
                published_flag=flag,
            )
        )
    feed = parsed.get("feed") or {}
    if not items:
        if hard_problem:
            raise FeedParseError("malformed", f"{len(entries)} broken entries, none usable: {problem_text}")
        raise FeedParseError("empty", f"{len(entries)} entries, none with a usable link ({skipped[0]})")
    return ParsedFeed(
        title=plain_text(feed.get("title"), LIMITS["title"]),
        site_url=http_url(feed.get("link")),
        items=items,
        skipped=skipped,
        warning=problem_text,
        ttl_s=ttl_seconds(feed.get("ttl")),
        update_period_s=update_period_seconds(feed.get("sy_updateperiod"), feed.get("sy_updatefrequency")),
    )
