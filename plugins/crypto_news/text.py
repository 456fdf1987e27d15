"""Text sanitising: everything that reaches PostgreSQL goes through here.

PostgreSQL ``text`` cannot hold NUL bytes and UTF-8 cannot encode lone surrogates; other C0/C1 control characters
are noise in titles. Limits (characters) for feed fields are documented in ``LIMITS``; longer values are cut at a
word boundary near the limit and end with an ellipsis.
"""

from __future__ import annotations

import html
import re

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
_BLOCK_TAGS = re.compile(
    r"<\s*/?\s*(p|div|br|li|ul|ol|h[1-6]|blockquote|pre|table|tr|section|article|figure|figcaption|hr)\b[^>]*>",
    re.I,
)
_DROP_BLOCKS = re.compile(r"<(script|style|noscript|template|iframe)\b.*?</\1\s*>", re.I | re.S)
_TAG = re.compile(r"<[^>]{0,2000}>")
_COMMENT = re.compile(r"<!--.*?-->", re.S)


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


def html_to_text(markup: str | None, limit: int | None = None) -> str | None:
    """Plain text from an HTML fragment: entities decoded, tags removed, block elements become paragraph breaks."""
    if markup is None:
        return None
    markup = sanitise(markup[: 4 * (limit or LIMITS["feed_content"])])
    if markup is None:
        return None
    if "<" in markup:
        markup = _COMMENT.sub(" ", markup)
        markup = _DROP_BLOCKS.sub(" ", markup)
        markup = _BLOCK_TAGS.sub("\n\n", markup)
        markup = _TAG.sub("", markup)
    text = html.unescape(markup)
    paragraphs = []
    for block in re.split(r"\n\s*\n", text):
        line = _SPACES.sub(" ", block).replace("\n", " ").strip()
        line = _INLINE_WS.sub(" ", line)
        if line:
            paragraphs.append(line)
    return sanitise("\n\n".join(paragraphs), limit)


WORD_RE = re.compile(r"\w+")


def word_count(text: str | None) -> int:
    """Words in a text: runs of Unicode letters, digits and underscores. The one count the project uses: the
    stored ``word_count``, the extractor's thresholds, the choice between a feed's content and its summary."""
    return len(WORD_RE.findall(text)) if text else 0
