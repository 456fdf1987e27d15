"""Text sanitising: everything that reaches PostgreSQL goes through here.

PostgreSQL ``text`` cannot hold NUL bytes and UTF-8 cannot encode lone surrogates; other C0/C1 control characters
are noise in titles. Limits (characters) for feed fields are documented in ``LIMITS``; longer values are cut at a
word boundary near the limit and end with an ellipsis.
"""

from __future__ import annotations

import re
import threading

from lxml import etree

LIMITS = {
    "title": 1_000,
    "summary": 10_000,
    "author": 500,
    "guid": 2_000,
    "category": 200,
    "feed_content": 500_000,
    "text": 2_000_000,
    "error": 2_000,
}

_BAD_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
_SPACES = re.compile(r"[ \t\r\f\v\u00a0\u2000-\u200a\u202f\u205f\u3000]+")
_INLINE_WS = re.compile(r"\s+")
_BLOCKS = frozenset(
    "p div br li ul ol h1 h2 h3 h4 h5 h6 blockquote pre table tr section article figure figcaption hr".split()
)
_DROPPED = ("script", "style", "noscript", "template", "iframe")
_ENTITY = re.compile(r"&(#[0-9]{1,8}|#[xX][0-9a-fA-F]{1,8}|[A-Za-z][A-Za-z0-9]{1,31});")
_MARKUP = re.compile(r"<[A-Za-z/!?](?:[^<>]*>|[^<>\n]*)")
_BAD_URL_CHARS = re.compile(r"[<>\"'`\s\\^{}|]")
_UNESCAPE_ROUNDS = 4  # markup escaped up to three times is still found and removed; more is neutralised
_local = threading.local()


def sanitise(value: str | None, limit: int | None = None) -> str | None:
    """Drop NUL/control characters and lone surrogates, trim, and truncate; None stays None, '' becomes None."""
    if value is None:
        return None
    if not isinstance(value, str):
        value = str(value)
    value = _BAD_CHARS.sub("", value).strip()
    if not value:
        return None
    return truncate(value, limit) if limit else value


def one_line(value: str | None, limit: int | None = None) -> str | None:
    """Like :func:`sanitise`, and all white space folded to single spaces (titles, authors, errors)."""
    value = sanitise(value)
    if value is None:
        return None
    value = _INLINE_WS.sub(" ", value).strip()
    return truncate(value, limit) if limit else value


def truncate(value: str, limit: int) -> str:
    if len(value) <= limit:
        return value
    cut = value[: limit - 1]
    space = cut.rfind(" ", max(0, limit - 80))
    return (cut[:space] if space > 0 else cut).rstrip() + "…"


def _parser() -> etree.HTMLParser:
    parser = getattr(_local, "parser", None)
    if parser is None:  # lxml parsers are not shared between threads
        parser = _local.parser = etree.HTMLParser(encoding="utf-8", recover=True, no_network=True,
                                                  remove_comments=True, remove_pis=True, default_doctype=False)
    return parser


def _fragment_text(markup: str) -> str:
    """The text of an HTML fragment as libxml2 parses it (in linear time, unlike regular expressions over
    unclosed comments or tags): entities decoded, comments and the content of script-like elements dropped, block
    elements as paragraph breaks."""
    root = etree.fromstring(("<div>" + markup + "</div>").encode("utf-8", "replace"), _parser())
    if root is None:
        return ""
    etree.strip_elements(root, *_DROPPED, with_tail=False)
    parts: list[str] = []
    for event, el in etree.iterwalk(root, events=("start", "end")):
        block = el.tag in _BLOCKS
        if event == "start":
            if block:
                parts.append("\n\n")
            if el.text:
                parts.append(el.text)
        else:
            if block:
                parts.append("\n\n")
            if el.tail:
                parts.append(el.tail)
    return "".join(parts)


def no_markup(value: str | None) -> str | None:
    """Plain text that no HTML renderer would read as markup: a complete tag (``<img ... onerror=...>``) is removed
    with its attributes, an unterminated one up to the end of its line. Text keeps a ``<`` that starts no tag
    (``a < b``). Each removal leaves a space, so that what is left around it cannot join into a new tag
    (``<<b>b>``). Linear: each match ends before the next ``<``."""
    if value is None or "<" not in value:
        return value
    return _MARKUP.sub(" ", value)


def html_to_text(markup: str | None, limit: int | None = None) -> str | None:
    """Plain text from an HTML fragment: entities decoded, tags removed, block elements become paragraph breaks.

    Tags are removed after entities are decoded, as often as escaping was applied (feeds escape markup inside
    CDATA, and some escape it twice), so ``&lt;script&gt;`` never comes out as ``<script>``. The parser is given at
    most four times ``limit`` characters (the field's budget), so its work is bounded per field."""
    if markup is None:
        return None
    limit = limit or LIMITS["feed_content"]
    text = sanitise(markup[: 4 * limit])
    if text is None:
        return None
    if "<" in text or "&" in text:
        text = _fragment_text(text)
        for _ in range(_UNESCAPE_ROUNDS - 1):  # markup that was escaped: decoded above, removed now
            if not (_MARKUP.search(text) or _ENTITY.search(text)):
                break
            text = _fragment_text(text)
    text = no_markup(text) or ""  # a str in, a str out
    paragraphs = []
    for block in re.split(r"\n\s*\n", text):
        line = _SPACES.sub(" ", block).replace("\n", " ").strip()
        line = _INLINE_WS.sub(" ", line)
        if line:
            paragraphs.append(line)
    return sanitise("\n\n".join(paragraphs), limit)


WORD_RE = re.compile(r"\w+")


def plain_text(value: str | None, limit: int | None = None) -> str | None:
    """One line of plain text from a field that should hold text but may hold markup (author, category, site name,
    page title): :func:`html_to_text` folded to one line."""
    return one_line(html_to_text(value, limit), limit)


def http_url(value: str | None, limit: int = 4096) -> str | None:
    """The value as an http(s) URL for a URL column, or None: any other scheme (``javascript:``, ``data:``), a
    relative or host-less URL, or one longer than ``limit`` is refused. Characters a URL may not hold (``<``,
    ``"``, spaces) are percent-encoded as requests does before sending, and user info is dropped (a URL column
    is readable by every dashboard)."""
    from urllib.parse import urlsplit, urlunsplit

    from requests.utils import requote_uri

    value = sanitise(value)
    if not value:
        return None
    try:
        parts = urlsplit(value)
        if parts.scheme.lower() not in ("http", "https") or not parts.hostname or _BAD_URL_CHARS.search(parts.netloc):
            return None
        netloc = parts.netloc.rsplit("@", 1)[-1]
        url = requote_uri(urlunsplit((parts.scheme.lower(), netloc, parts.path, parts.query, parts.fragment)))
    except ValueError:
        return None
    url = _INLINE_WS.sub("%20", url)
    return url if len(url) <= limit and not _BAD_URL_CHARS.search(url) else None


def word_count(text: str | None) -> int:
    """Words in a text: runs of Unicode letters, digits and underscores. The one count the project uses: the
    stored ``word_count``, the extractor's thresholds, the choice between a feed's content and its summary."""
    return len(WORD_RE.findall(text)) if text else 0
