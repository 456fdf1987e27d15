"""Bytes to HTML text: charset decoding that never fails, and sniffing of bodies that are not HTML at all."""

from __future__ import annotations

import codecs
import re

from .settings import DETECT_SAMPLE_BYTES, SNIFF_BYTES

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
        meta = _META_CHARSET_RE.search(body[: SNIFF_BYTES * 4])
        if meta:
            declared.append(meta.group(1).decode("ascii", "replace"))
        for label in declared:
            codec = _codec(label)
            if codec and codec != "utf-8":
                try:
                    return body.decode(codec)
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
TAG_RE = re.compile(
    r"<(?:!doctype|html|head|body|div|p|meta|title|article|script|span|a|!--)[\s>/]", re.IGNORECASE
)


def sniff_not_html(head: bytes, content_type: str | None) -> str | None:
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
    if content_type and _NON_HTML_TYPES.search(content_type) and not TAG_RE.search(head.decode("latin-1")):
        return f"content type {content_type.split(';')[0].strip()}"
    return None
