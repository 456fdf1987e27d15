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

import codecs
import json
import re
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta

import trafilatura
from lxml import etree
from lxml.html import fromstring
from trafilatura import bare_extraction
from trafilatura.utils import DOCTYPE_TAG, HTML_PARSER, load_html

# --------------------------------------------------------------------------------------------------
# Settings (all in one place; docs/EXTRACTION.md explains the choices)
# --------------------------------------------------------------------------------------------------
SETTINGS_REVISION = "cn4"
EXTRACTOR = "trafilatura"
EXTRACTOR_VERSION = f"{trafilatura.__version__}+{SETTINGS_REVISION}"

MAX_INPUT_BYTES = 16_000_000  # larger bodies are refused as "too_large" without parsing
TRUNCATE_AT_BYTES = 4_000_000  # larger bodies are cut to this size before decoding and parsing
DETECT_SAMPLE_BYTES = 256_000  # charset detection looks at this much of the body
SNIFF_BYTES = 4096  # head of the body used for binary / non-HTML sniffing
MAX_TREE_ELEMENTS = (
    30_000  # trafilatura's time grows with the element count (~0.15 ms each); benchmark max ~1,600
)
LIBXML2_MAX_DEPTH = 255  # libxml2's HTML parser drops markup nested deeper than this

# trafilatura keyword settings: precision first, balanced mode as the retry. Both in fast mode (trafilatura's own
# extractor only, without its readability/jusText fallbacks): the balanced retry recovers what the fallbacks would,
# at a third less CPU than with them (docs/EXTRACTION.md has the measurements).
PRIMARY = {"favor_precision": True, "include_comments": False, "include_tables": True, "deduplicate": False,
           "fast": True}
SECONDARY = {
    "favor_precision": False,
    "include_comments": False,
    "include_tables": True,
    "deduplicate": False,
    "fast": True,
}
RETRY_BELOW_WORDS = 100  # run SECONDARY when the PRIMARY text has fewer words than this (docs/EXTRACTION.md)
RETRY_KEEP_RATIO = 0.5  # keep SECONDARY when PRIMARY has less than this share of its words

DEFAULT_MIN_WORDS = 50
SHORT_PAGE_WORDS = 150  # blocked-page checks only apply to texts shorter than this
TEASER_MAX_WORDS = 350  # a paywall marker with a text shorter than this -> "paywall_or_teaser"
CONSENT_MIN_HITS = 5  # cookie wall: at least this many consent words ...
CONSENT_MIN_SHARE = 0.10  # ... making up at least this share of the words, and a consent-dialog phrase

FUTURE_TOLERANCE = timedelta(days=1)  # page dates later than now + this are not trusted
EARLIEST_TRUSTED = datetime(2008, 1, 1, tzinfo=UTC)  # page dates before this are not trusted

STATUSES = (
    "ok",
    "empty",
    "not_html",
    "too_short",
    "paywall_or_teaser",
    "blocked",
    "parse_error",
    "too_large",
)

# --------------------------------------------------------------------------------------------------
# Result
# --------------------------------------------------------------------------------------------------


@dataclass
class PageResult:
    status: str
    text: str | None = None
    title: str | None = None
    author: str | None = None
    published: datetime | None = None
    sitename: str | None = None
    lang: str | None = None
    description: str | None = None
    tags: list[str] = field(default_factory=list)
    image: str | None = None
    word_count: int = 0
    detail: str | None = None
    extractor: str = EXTRACTOR
    extractor_version: str = EXTRACTOR_VERSION

    def to_dict(self) -> dict:
        d = asdict(self)
        d["published"] = self.published.isoformat() if self.published else None
        return d


# --------------------------------------------------------------------------------------------------
# Text helpers
# --------------------------------------------------------------------------------------------------
_WORD_RE = re.compile(r"\w+")
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def count_words(text: str | None) -> int:
    return len(_WORD_RE.findall(text or ""))


def clean_str(value) -> str | None:
    """A string storable in PostgreSQL text: no NUL or other control characters, no lone surrogates."""
    if value is None:
        return None
    s = str(value)
    s = s.encode("utf-8", "replace").decode("utf-8")
    s = _CONTROL_RE.sub("", s).strip()
    return s or None


# Lines that are navigation inside the article body rather than article text.
_BOILERPLATE_LINE_RE = re.compile(
    r"^\s*(?:"
    r"(?:read more|related(?: post| posts| articles?| stories| reading)?|see also|also read)\s*:.*"
    r"|(?:read more|you (?:may|might) also like|related(?: articles?| stories| posts)?|more|see more photos)"
    r"\s*[:.…]*"
    r"|\d*\s*comments?|advertisement|share this(?: article| story)?"
    r")\s*$",
    re.IGNORECASE,
)


def drop_boilerplate_lines(text: str) -> str:
    return "\n".join(line for line in text.split("\n") if not _BOILERPLATE_LINE_RE.match(line))


def normalise_paragraphs(text: str) -> str:
    """One paragraph per block, blocks separated by a blank line."""
    lines = [re.sub(r"[ \t\u00a0]+", " ", line).strip() for line in text.split("\n")]
    return "\n\n".join(line for line in lines if line)


# --------------------------------------------------------------------------------------------------
# Decoding
# --------------------------------------------------------------------------------------------------
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_HEADER_CHARSET_RE = re.compile(r"charset\s*=\s*[\"']?([\w.:-]+)", re.IGNORECASE)
_META_CHARSET_RE = re.compile(rb"<meta[^>]{0,512}?charset\s*=\s*[\"']?\s*([\w.:-]+)", re.IGNORECASE)
# WHATWG: these labels mean windows-1252 in browsers
_LATIN1_LABELS = {"iso-8859-1", "iso8859-1", "latin-1", "latin1", "l1", "us-ascii", "ascii", "cp819"}


def _codec(label: str | None) -> str | None:
    if not label:
        return None
    label = label.strip().lower()
    if label in _LATIN1_LABELS:
        return "cp1252"
    try:
        return codecs.lookup(label).name
    except LookupError:
        return None


_LATIN_LIKE = {
    "cp1250",
    "cp1252",
    "cp1254",
    "cp1257",
    "cp437",
    "cp850",
    "hp_roman8",
    "latin_1",
    "ascii",
    "iso8859_2",
    "iso8859_3",
    "iso8859_4",
    "iso8859_9",
    "iso8859_10",
    "iso8859_13",
    "iso8859_14",
    "iso8859_15",
    "iso8859_16",
    "mac_roman",
    "mac_latin2",
    "mac_iceland",
    "mac_turkish",
}


def _latin_like(encoding: str) -> bool:
    return _codec(encoding) in {_codec(e) for e in _LATIN_LIKE}


def _decode_utf8_prefix(body: bytes) -> str | None:
    """Strict UTF-8, tolerating only an incomplete character cut off at the end (truncated input)."""
    try:
        return codecs.getincrementaldecoder("utf-8")("strict").decode(body, final=False)
    except UnicodeDecodeError:
        return None


def decode_html(body: bytes, content_type: str | None) -> str:
    """Decode an HTML body. Never raises.

    Order: byte-order mark; valid UTF-8 (a mis-declared legacy charset is far more common than a legacy
    text that happens to be valid UTF-8); the charset of the Content-Type header, then of a ``<meta>``
    tag (ISO-8859-1 read as windows-1252, as browsers do); detection with charset_normalizer on a sample;
    windows-1252 with replacement characters as the last resort.
    """
    try:
        if isinstance(body, str):
            return body
        body = bytes(body or b"")
        for bom, enc in _BOMS:
            if body.startswith(bom):
                return body[len(bom) :].decode(enc, "replace")
        text = _decode_utf8_prefix(body)
        if text is not None:
            return text
        declared = []
        m = _HEADER_CHARSET_RE.search(content_type or "")
        if m:
            declared.append(m.group(1))
        m = _META_CHARSET_RE.search(body[: SNIFF_BYTES * 4])
        if m:
            declared.append(m.group(1).decode("ascii", "replace"))
        for label in declared:
            enc = _codec(label)
            if enc and enc != "utf-8":
                try:
                    return body.decode(enc)
                except (UnicodeDecodeError, LookupError):
                    pass
        try:
            from charset_normalizer import from_bytes

            best = from_bytes(body[:DETECT_SAMPLE_BYTES]).best()
            if best is not None and best.encoding:
                if _latin_like(best.encoding):
                    # detection cannot tell the Latin single-byte charsets apart on short texts;
                    # windows-1252 is by far the most common of them on the web
                    try:
                        return body.decode("cp1252")
                    except UnicodeDecodeError:
                        pass
                return body.decode(best.encoding, "replace")
        except Exception:  # noqa: BLE001, S110 - detection is best effort
            pass
        return body.decode("cp1252", "replace")
    except Exception:  # noqa: BLE001 - last resort, decoding must never fail
        return bytes(body or b"").decode("utf-8", "replace") if isinstance(body, (bytes, bytearray)) else ""


# --------------------------------------------------------------------------------------------------
# Input sniffing
# --------------------------------------------------------------------------------------------------
_MAGIC = (
    (b"%PDF", "PDF"),
    (b"\x89PNG", "PNG image"),
    (b"GIF8", "GIF image"),
    (b"\xff\xd8\xff", "JPEG image"),
    (b"RIFF", "RIFF media"),
    (b"PK\x03\x04", "ZIP archive"),
    (b"\x1f\x8b", "gzip data"),
    (b"BZh", "bzip2 data"),
    (b"\xfd7zXZ", "xz data"),
    (b"OggS", "Ogg media"),
    (b"ID3", "MP3 audio"),
    (b"wOF", "web font"),
    (b"\x00\x00\x01\x00", "icon"),
)
_NON_HTML_TYPES = re.compile(
    r"^\s*(image|audio|video|font)/|^\s*application/(pdf|zip|gzip|octet-stream|json)", re.IGNORECASE
)
_TAG_RE = re.compile(
    r"<(?:!doctype|html|head|body|div|p|meta|title|article|script|span|a|!--)[\s>/]", re.IGNORECASE
)


def _sniff_not_html(head: bytes, content_type: str | None) -> str | None:
    """A reason why the body is not HTML, or None."""
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            return f"{kind} bytes"
    if head[4:12] == b"ftypisom" or head[8:12] == b"WEBP":
        return "media bytes"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return None
    controls = sum(1 for b in head if b < 9 or 13 < b < 32)
    if head and controls / len(head) > 0.10:
        return f"binary bytes ({controls} control bytes in the first {len(head)})"
    if content_type and _NON_HTML_TYPES.search(content_type) and not _TAG_RE.search(head.decode("latin-1")):
        return f"content type {content_type.split(';')[0].strip()}"
    return None


# --------------------------------------------------------------------------------------------------
# Blocked / paywall detection
# --------------------------------------------------------------------------------------------------
_CHALLENGE_TITLE_RE = re.compile(
    r"^\s*(just a moment|attention required|checking your browser|please wait|access denied|"
    r"403 forbidden|forbidden|are you a (?:robot|human)|pardon our interruption|security check|ddos-guard|"
    r"one more step|verify you are (?:a )?human|human verification|bot verification|captcha|"
    r"request rejected|access to this page has been denied|you have been blocked)",
    re.IGNORECASE,
)
_CHALLENGE_MARKERS = tuple(m.encode("ascii") for m in (
    "cf-browser-verification",
    "/cdn-cgi/challenge-platform",
    "cf_chl_",
    "cf-challenge",
    "checking your browser before accessing",
    "checking if the site connection is secure",
    "enable javascript and cookies to continue",
    "px-captcha",
    "_incapsula_resource",
    "captcha-delivery.com",
    "verify you are human",
    "you don't have permission to access",
    "access to this page has been denied",
    "the request could not be satisfied",
    "sorry, you have been blocked",
))
_CONSENT_WORDS = {
    "cookie",
    "cookies",
    "consent",
    "partners",
    "vendors",
    "preferences",
    "personalised",
    "personalized",
    "tracking",
    "gdpr",
    "accept",
    "reject",
    "privacy",
    "legitimate",
    "opt",
    "purposes",
}
_CONSENT_UI_PHRASES = (
    "accept all",
    "reject all",
    "accept cookies",
    "manage preferences",
    "manage cookies",
    "cookie settings",
    "privacy settings",
    "we and our partners",
    "we value your privacy",
    "before you continue",
    "i agree",
    "agree and continue",
    "accept and continue",
)
_PAYWALL_PHRASES = (
    "subscribe to continue reading",
    "subscribe to read",
    "subscribe now to read",
    "subscribe to unlock",
    "this article is for subscribers",
    "this content is for subscribers",
    "for subscribers only",
    "subscribers only",
    "exclusive to subscribers",
    "already a subscriber",
    "sign in to continue reading",
    "log in to continue reading",
    "to continue reading this article",
    "to read the full article",
    "to read the full story",
    "unlock this article",
    "become a member to read",
    "members only content",
    "premium article",
)
_NOT_FREE_RE = re.compile(rb"isaccessibleforfree[\"']?\s*[:=]\s*[\"']?false")  # searched in the lowered page
_HIDDEN_TAGS = frozenset(("script", "style", "noscript", "template"))


def _visible_text(tree) -> str:
    """The text of the page's body outside script, style, noscript and template elements, one walk over the tree
    (the equivalent XPath tests every text node's ancestors: about twice as slow)."""
    parts: list[str] = []

    def walk(el) -> None:
        if el.text and isinstance(el.tag, str):  # a comment's or processing instruction's own text is not shown
            parts.append(el.text)
        for child in el:
            if child.tag not in _HIDDEN_TAGS:
                walk(child)
            if child.tail:
                parts.append(child.tail)

    for body in tree.iter("body"):
        if not any(a.tag == "body" for a in body.iterancestors()):  # a body nested in another is walked with it
            walk(body)
    return " ".join(p.strip() for p in parts if p.strip())


def _page_title(tree) -> str:
    """The first non-empty <title> (the walk stops there, near the top, where ``//title`` would scan the page)."""
    for title in tree.iter("title"):
        if title.text:
            return " ".join(title.text.split())
    return ""


def _blocked_reason(tree, html_lower: bytes, text: str, words: int) -> tuple[str, str] | None:
    """(status, detail) when the page is a challenge / denied / cookie wall / paywall teaser. ``html_lower`` is the
    page in UTF-8 with ASCII letters lowered (every marker is ASCII; 4× cheaper than ``str.lower``)."""
    title = _page_title(tree)
    visible = None
    if words < SHORT_PAGE_WORDS:
        if _CHALLENGE_TITLE_RE.match(title):
            return "blocked", f"bot challenge or access denied page (title {title[:80]!r}, {words} words)"
        marker = next((m for m in _CHALLENGE_MARKERS if m in html_lower), None)
        if marker:
            return "blocked", f"bot challenge or access denied page (marker {marker.decode()!r}, {words} words)"
        visible = _visible_text(tree)
    # cookie wall: consent vocabulary dominating the extracted text, or the page when little was extracted
    for source, candidate in (("text", text), ("page", visible)):
        if not candidate or (source == "text" and words >= TEASER_MAX_WORDS):  # a long text is no cookie wall
            continue
        tokens = [t.lower() for t in _WORD_RE.findall(candidate)]
        if not tokens or (source == "text" and len(tokens) >= TEASER_MAX_WORDS):
            continue
        if source == "page" and len(tokens) > 3 * TEASER_MAX_WORDS:
            continue
        hits = sum(1 for t in tokens if t in _CONSENT_WORDS)
        if hits < CONSENT_MIN_HITS or hits / len(tokens) < CONSENT_MIN_SHARE:
            continue
        lowered = " ".join(tokens)
        has_core = "cookie" in lowered or "consent" in lowered
        if has_core and any(phrase in lowered for phrase in _CONSENT_UI_PHRASES):
            return "blocked", f"cookie wall detected (consent text, {len(tokens)} words)"
    if words < TEASER_MAX_WORDS:
        if b"isaccessibleforfree" in html_lower and _NOT_FREE_RE.search(html_lower):
            return "paywall_or_teaser", f"page marked isAccessibleForFree=false, {words} words of text"
        if visible is None:
            visible = _visible_text(tree)
        visible_lower = (visible + " " + text).lower()
        phrase = next((p for p in _PAYWALL_PHRASES if p in visible_lower), None)
        if phrase:
            return "paywall_or_teaser", f"paywall text {phrase!r}, {words} words of text"
    return None


# --------------------------------------------------------------------------------------------------
# Metadata
# --------------------------------------------------------------------------------------------------
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
    except ValueError:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)


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
            item = clean_str(item)
            if item and item not in out:
                out.append(item)
    return out[:50]


# --------------------------------------------------------------------------------------------------
# Extraction
# --------------------------------------------------------------------------------------------------
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
    reason = _sniff_not_html(head, content_type)
    if reason:
        return _fail(status="not_html", detail=f"not HTML: {reason}")

    if isinstance(body, bytes):
        html = decode_html(body, content_type).replace("\x00", "")  # decoding never yields lone surrogates
    else:
        html = body.encode("utf-8", "replace").decode("utf-8").replace("\x00", "")  # lone surrogates, NULs
    if not html.strip():
        return _fail(status="empty", detail="no characters after decoding")
    if not _TAG_RE.search(html[: SNIFF_BYTES * 16]) and "<" not in html[:SNIFF_BYTES]:
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
    words = count_words(text)
    if words < RETRY_BELOW_WORDS:
        alt = _run(tree, url, SECONDARY, with_metadata=False)
        alt_text = drop_boilerplate_lines(alt.text) if alt is not None and alt.text else ""
        alt_words = count_words(alt_text)
        if words < RETRY_KEEP_RATIO * alt_words:
            text, words = alt_text, alt_words
        if doc is None:
            doc = alt
    text = normalise_paragraphs(clean_str(text) or "")
    words = count_words(text)

    result = _metadata(tree, doc, url)
    result.word_count = words
    if notes:
        result.detail = "; ".join(notes)

    # only short texts are checked
    html_lower = html[:2_000_000].encode("utf-8", "replace").lower() if words < TEASER_MAX_WORDS else b""
    blocked = _blocked_reason(tree, html_lower, text, words)
    if blocked:
        result.status, detail = blocked
        result.detail = "; ".join([detail, *notes])
        return result, text
    if words < min_words:
        if _max_depth(tree) >= LIBXML2_MAX_DEPTH:
            result.status = "parse_error"
            why = f"markup nested deeper than the parser's limit ({LIBXML2_MAX_DEPTH}); content beyond it is lost"
        elif words == 0 and not _visible_text(tree):
            result.status, why = "empty", "page has no visible text"
        else:
            result.status, why = "too_short", f"main text has {words} words (minimum {min_words})"
        result.detail = "; ".join([why, *notes])
        return result, text
    result.status = "ok"
    result.text = text
    return result, text


def _fail(status: str, detail: str) -> tuple[PageResult, str]:
    return PageResult(status=status, detail=detail), ""


def _first(tree, *xpaths: str) -> str | None:
    for xp in xpaths:
        for value in tree.xpath(xp):
            value = clean_str(" ".join(str(value).split()))
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
        for value in metas.get(key, ()):
            value = clean_str(" ".join(value.split()))
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


def _metadata(tree, doc, url) -> PageResult:
    """Page metadata from its markup: Open Graph and article meta tags, JSON-LD, <title>, <html lang>.

    Read in one pass over the meta tags and a few XPath queries on the tree already parsed for the text (every
    full-document query walks the whole tree, so they are kept few); trafilatura's own metadata
    pass (with its date search) costs about a third of the extraction time for the same fields.
    """
    r = PageResult(status="ok")
    docs = _jsonld_docs(tree)
    metas = _meta_tags(tree)
    r.title = _meta(metas, "og:title", "twitter:title") or clean_str(_page_title(tree)) \
        or _first(tree, "//h1//text()")
    r.author = _meta(metas, "author", "article:author", "parsely-author") \
        or _jsonld_name(_jsonld_values(docs, "author")) or _first(tree, '//a[@rel="author"]//text()')
    r.sitename = _meta(metas, "og:site_name", "application-name") or _jsonld_name(_jsonld_values(docs, "publisher"))
    r.description = _meta(metas, "description", "og:description")
    r.image = _meta(metas, "og:image", "twitter:image")
    r.lang = clean_str(_page_lang(tree, None))
    r.tags = _tag_list(metas.get("article:tag"), metas.get("article:section"), metas.get("keywords"))
    r.published = _page_timestamp(tree, docs, metas)
    return r
