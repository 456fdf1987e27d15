"""Canonical article URLs: one spelling per story, so the same story from several feeds is one article.

Rules: scheme and host lower-cased; user info dropped; default ports (:80 for http, :443 for https) and fragments dropped; tracking
parameters removed (``utm_*``, click ids, mailing-list ids, and ``ref``/``source``-style parameters whose value only
names a feed or a social network); the remaining query parameters sorted (stable, keeps repeated keys and blank
values); an empty path becomes ``/``. Never raises: input that is not an http(s) URL comes back stripped, otherwise
unchanged, and :func:`link_problem` says why it is not usable.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

TRACKING_EXACT = frozenset(
    {
        "fbclid", "gclid", "dclid", "gbraid", "wbraid", "msclkid", "yclid", "twclid", "ttclid", "li_fat_id",
        "mc_cid", "mc_eid", "_hsenc", "_hsmi", "hsctatracking", "igshid", "mkt_tok", "oly_anon_id", "oly_enc_id",
        "vero_id", "wickedid", "s_cid", "cmpid", "ncid", "sr_share", "_ga", "_gl", "spm",
    }
)
TRACKING_PREFIXES = ("utm_", "pk_", "mtm_", "matomo_", "ga_", "hsa_")
# Parameters that are tracking only when their whole value names the channel that carried the link (``ref=rss``,
# ``source=twitter``, ``ref_src=twsrc^tfw``); any other value may select a page (``from=mapping-report-2024``).
CHANNEL_KEYS = frozenset({"ref", "source", "src", "from", "ref_src", "ref_url", "via", "feed", "channel"})
CHANNEL_VALUE = re.compile(
    r"(rss|rss2|atom|feed|feeds|rssfeed|feedly|feedburner|newsletter|email|e-mail|mail|twitter|twsrc\^tfw|twsrc|x|"
    r"facebook|fb|linkedin|telegram|reddit|social|share|syndication|flipboard|newsnow|google|google_news|"
    r"googlenews|yahoo|msn|homepage|home|push|app)",
    re.I,
)
DEFAULT_PORTS = {"http": 80, "https": 443}


def _is_tracking(key: str, value: str) -> bool:
    k = key.lower()
    if k in TRACKING_EXACT or k.startswith(TRACKING_PREFIXES):
        return True
    return k in CHANNEL_KEYS and bool(CHANNEL_VALUE.fullmatch(value or ""))


def canonical_url(url: str) -> str:
    """The canonical spelling of an http(s) URL (see module doc). Idempotent; never raises."""
    if not isinstance(url, str):
        return ""
    url = url.strip()
    try:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in DEFAULT_PORTS or not parts.hostname:
            return url
        host = parts.hostname  # already lower-cased by urlsplit; IPv6 without brackets
        port = parts.port
    except ValueError:
        return url
    if ":" in host:
        host = f"[{host}]"
    netloc = host  # user info is dropped: credentials belong in the request, never in a stored URL
    if port is not None and port != DEFAULT_PORTS[scheme]:
        netloc += f":{port}"
    path = parts.path or "/"
    query = ""
    if parts.query:
        pairs = parse_qsl(parts.query, keep_blank_values=True)
        kept = sorted((k, v) for k, v in pairs if not _is_tracking(k, v))
        query = urlencode(kept, doseq=False)
    # Stripped again: a dropped fragment can leave white space at the end ("http://h/ #"), which the next call
    # would strip, and canonical URLs must be idempotent.
    return urlunsplit((scheme, netloc, path, query, "")).strip()


def link_problem(url: str | None) -> str | None:
    """Why a feed item's link cannot be used as an article URL, or None when it can."""
    if not url or not url.strip():
        return "no link"
    try:
        parts = urlsplit(url.strip())
        if parts.scheme.lower() not in DEFAULT_PORTS:
            scheme = parts.scheme.lower() or "relative"
            return f"link scheme {scheme!r} is not http or https"
        if not parts.hostname:
            return "link has no host"
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        return f"malformed link: {exc}"
    if len(url) > 4096:
        return "link longer than 4096 characters"
    return None
