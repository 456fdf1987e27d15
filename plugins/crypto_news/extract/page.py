"""Article page -> main text, metadata and a status.

The pipeline calls :func:`extract_page` with the downloaded bytes of an article page. The result always
has a status: ``"ok"`` with the main text, or a failure kind with a human-readable ``detail``. It never
raises on bad input, and its work is bounded (input size cap, truncation before parsing, element-count
cap after parsing; libxml2 itself caps tree depth at 255).

Method (see docs/EXTRACTION.md for the measurements behind each setting):

1. Guard the input: size cap, binary/non-HTML sniffing, charset decoding (:func:`decode_html`).
2. Parse once, as trafilatura's HTML loader does (:func:`parse_html`).
3. Run trafilatura in precision mode without comments (``PRIMARY``), with metadata. When that text is
   short (``RETRY_BELOW_WORDS``), run the balanced mode (``SECONDARY``) on the same tree and keep its text
   if the precision pass kept less than ``RETRY_KEEP_RATIO`` of it: precision mode sometimes drops the
   whole article on pages with little markup around it.
4. Drop boilerplate lines ("Read more: ...", "Related: ...", "Comments") from the text.
5. Classify: bot challenge / access denied / cookie wall -> ``"blocked"``; paywall teaser ->
   ``"paywall_or_teaser"``; little text -> ``"too_short"``.
"""

from __future__ import annotations

from datetime import UTC, datetime

from lxml import etree
from lxml.html import fromstring
from trafilatura import bare_extraction
from trafilatura.utils import DOCTYPE_TAG, HTML_PARSER, load_html

from ..text import sanitise, word_count
from .checks import blocked_reason, visible_text
from .cleanup import drop_boilerplate_lines, normalise_paragraphs
from .decoding import TAG_RE, decode_html, sniff_not_html
from .metadata import page_metadata
from .result import PageResult
from .settings import (
    DEFAULT_MIN_WORDS,
    LIBXML2_MAX_DEPTH,
    MAX_INPUT_BYTES,
    MAX_TREE_ELEMENTS,
    PRIMARY,
    RETRY_BELOW_WORDS,
    RETRY_KEEP_RATIO,
    SECONDARY,
    SNIFF_BYTES,
    TEASER_MAX_WORDS,
    TRUNCATE_AT_BYTES,
    PageStatus,
)

_XML_FORBIDDEN_BYTES = bytes(range(0x00, 0x09)) + b"\x0b\x0c" + bytes(range(0x0e, 0x20))  # as UTF-8 bytes


def parse_html(html: str):
    """The tree of a decoded page, the same as trafilatura's ``load_html`` builds, about 1 ms cheaper per page.

    ``load_html`` starts by deleting the characters XML forbids, with a regex over the whole page (about 1 ms on a
    typical page, more than a third of the parse). Here the page is encoded to UTF-8 once and those characters are
    looked for in the bytes by a byte-table pass (a quarter of the cost); a page that has any, or that needs one of
    ``load_html``'s other repairs (a doctype with a slash in its first line, a self-closing ``<html/>``), or that
    does not parse into a document of at least two children, goes to ``load_html`` itself. Every other page is
    parsed from its UTF-8 bytes with trafilatura's parser (its encoding is fixed to UTF-8), which gives the tree
    that parsing the string gives (tests/test_extract.py compares them)."""
    if "\ufffe" in html or "\uffff" in html:
        return load_html(html)
    raw = html.encode("utf-8")
    if len(raw.translate(None, _XML_FORBIDDEN_BYTES)) != len(raw):
        return load_html(html)
    if "doctype" in html[:50].lower():
        firstline, newline, _ = html.partition("\n")
        if not newline or DOCTYPE_TAG.search(firstline):
            return load_html(html)
    if any("<html" in line and line.endswith("/>") for line in html[:4096].splitlines()[:4]):
        return load_html(html)
    try:
        tree = fromstring(raw, parser=HTML_PARSER)
    except Exception:  # noqa: BLE001 - load_html knows what to do with what lxml refuses
        return load_html(html)
    if tree is None or len(tree) < 2:
        return load_html(html)
    return tree


def _max_depth(tree) -> int:
    depth = deepest = 0
    for event, _ in etree.iterwalk(tree, events=("start", "end")):
        if event == "start":
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def _date_params() -> dict:
    # markup only (meta tags, <time>, JSON-LD, URL): the extensive search reads free text and takes
    # copyright years ("(c) 2024") for publication dates
    return {
        "original_date": True,
        "extensive_search": False,
        "max_date": datetime.now(UTC).strftime("%Y-%m-%d"),
    }


def _run(tree, url, settings, with_metadata):
    return bare_extraction(
        tree, url=url, with_metadata=with_metadata, date_extraction_params=_date_params(), **settings
    )


def extract_page(
    body: bytes | str,
    url: str | None = None,
    content_type: str | None = None,
    *,
    min_words: int = DEFAULT_MIN_WORDS,
) -> PageResult:
    """Main text, metadata and status of one downloaded page. Never raises."""
    return analyse_page(body, url, content_type, min_words=min_words)[0]


def analyse_page(
    body: bytes | str,
    url: str | None = None,
    content_type: str | None = None,
    *,
    min_words: int = DEFAULT_MIN_WORDS,
) -> tuple[PageResult, str]:
    """:func:`extract_page`, plus the text as extracted whatever the status (for quality measurement)."""
    try:
        return _extract_page(body, url, content_type, min_words)
    except Exception as exc:  # noqa: BLE001 - a bug or an unforeseen input must not stop the pipeline
        detail = f"extraction failed: {type(exc).__name__}: {exc}"[:300]
        return PageResult(status="parse_error", detail=detail), ""


def _extract_page(body, url, content_type, min_words) -> tuple[PageResult, str]:
    if body is None:
        return _fail(status="empty", detail="no body")
    notes = []
    if isinstance(body, str):
        size = len(body)
        if size > MAX_INPUT_BYTES:
            return _fail(status="too_large", detail=f"page has {size} characters (limit {MAX_INPUT_BYTES})")
        head = body[:SNIFF_BYTES].encode("utf-8", "replace")
        if size > TRUNCATE_AT_BYTES:
            body = body[:TRUNCATE_AT_BYTES]
            notes.append(f"input truncated to {TRUNCATE_AT_BYTES} characters")
    else:
        body = bytes(body)
        size = len(body)
        if size > MAX_INPUT_BYTES:
            return _fail(status="too_large", detail=f"page has {size} bytes (limit {MAX_INPUT_BYTES})")
        head = body[:SNIFF_BYTES]
        if size > TRUNCATE_AT_BYTES:
            body = body[:TRUNCATE_AT_BYTES]
            notes.append(f"input truncated to {TRUNCATE_AT_BYTES} bytes")
    if not head.strip(b" \t\r\n\x00\x0c"):
        return _fail(status="empty", detail=f"empty body ({size} bytes)")
    reason = sniff_not_html(head, content_type)
    if reason:
        return _fail(status="not_html", detail=f"not HTML: {reason}")

    if isinstance(body, bytes):
        html = decode_html(body, content_type).replace("\x00", "")  # decoding never yields lone surrogates
    else:
        html = body.encode("utf-8", "replace").decode("utf-8").replace("\x00", "")  # lone surrogates, NULs
    if not html.strip():
        return _fail(status="empty", detail="no characters after decoding")
    if not TAG_RE.search(html[: SNIFF_BYTES * 16]) and "<" not in html[:SNIFF_BYTES]:
        return _fail(status="not_html", detail="not HTML: no markup found")

    tree = parse_html(html)
    if tree is None:
        return _fail(status="parse_error", detail="HTML could not be parsed")
    # Start tags in the source bound the element count from above; count the tree only when that bound is high.
    n_elements = html.count("<") - html.count("</")
    if n_elements > MAX_TREE_ELEMENTS:
        n_elements = sum(1 for _ in tree.iter())
    if n_elements > MAX_TREE_ELEMENTS:
        return _fail(
            status="too_large", detail=f"page has {n_elements} HTML elements (limit {MAX_TREE_ELEMENTS})"
        )

    doc = _run(tree, url, PRIMARY, with_metadata=False)
    text = drop_boilerplate_lines(doc.text) if doc is not None and doc.text else ""
    words = word_count(text)
    if words < RETRY_BELOW_WORDS:
        alt = _run(tree, url, SECONDARY, with_metadata=False)
        alt_text = drop_boilerplate_lines(alt.text) if alt is not None and alt.text else ""
        alt_words = word_count(alt_text)
        if words < RETRY_KEEP_RATIO * alt_words:
            text, words = alt_text, alt_words
        if doc is None:
            doc = alt
    text = normalise_paragraphs(sanitise(text) or "")
    words = word_count(text)

    result = page_metadata(tree, doc, url)
    result.word_count = words
    if notes:
        result.detail = "; ".join(notes)

    # only short texts are checked
    html_lower = html[:2_000_000].encode("utf-8", "replace").lower() if words < TEASER_MAX_WORDS else b""
    blocked = blocked_reason(tree, html_lower, text, words)
    if blocked:
        result.status, detail = blocked
        result.detail = "; ".join([detail, *notes])
        return result, text
    if words < min_words:
        if _max_depth(tree) >= LIBXML2_MAX_DEPTH:
            result.status = "parse_error"
            why = f"markup nested deeper than the parser's limit ({LIBXML2_MAX_DEPTH}); content beyond it is lost"
        elif words == 0 and not visible_text(tree):
            result.status, why = "empty", "page has no visible text"
        else:
            result.status, why = "too_short", f"main text has {words} words (minimum {min_words})"
        result.detail = "; ".join([why, *notes])
        return result, text
    result.status = "ok"
    result.text = text
    return result, text


def _fail(status: PageStatus, detail: str) -> tuple[PageResult, str]:
    return PageResult(status=status, detail=detail), ""
