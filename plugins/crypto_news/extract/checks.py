"""Pages that are not the article: bot challenges, access denied, cookie walls, paywall teasers."""

from __future__ import annotations

import re

from ..text import WORD_RE
from .settings import CONSENT_MIN_HITS, CONSENT_MIN_SHARE, SHORT_PAGE_WORDS, TEASER_MAX_WORDS, PageStatus

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


def visible_text(tree) -> str:
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


def page_title(tree) -> str:
    """The first non-empty <title> (the walk stops there, near the top, where ``//title`` would scan the page)."""
    for title in tree.iter("title"):
        if title.text:
            return " ".join(title.text.split())
    return ""


def blocked_reason(tree, html_lower: bytes, text: str, words: int) -> tuple[PageStatus, str] | None:
    """(status, detail) when the page is a challenge / denied / cookie wall / paywall teaser. ``html_lower`` is the
    page in UTF-8 with ASCII letters lowered (every marker is ASCII; 4× cheaper than ``str.lower``)."""
    title = page_title(tree)
    visible = None
    if words < SHORT_PAGE_WORDS:
        if _CHALLENGE_TITLE_RE.match(title):
            return "blocked", f"bot challenge or access denied page (title {title[:80]!r}, {words} words)"
        marker = next((m for m in _CHALLENGE_MARKERS if m in html_lower), None)
        if marker:
            return "blocked", f"bot challenge or access denied page (marker {marker.decode()!r}, {words} words)"
        visible = visible_text(tree)
    # cookie wall: consent vocabulary dominating the extracted text, or the page when little was extracted
    for source, candidate in (("text", text), ("page", visible)):
        if not candidate or (source == "text" and words >= TEASER_MAX_WORDS):  # a long text is no cookie wall
            continue
        tokens = [t.lower() for t in WORD_RE.findall(candidate)]
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
            visible = visible_text(tree)
        visible_lower = (visible + " " + text).lower()
        phrase = next((p for p in _PAYWALL_PHRASES if p in visible_lower), None)
        if phrase:
            return "paywall_or_teaser", f"paywall text {phrase!r}, {words} words of text"
    return None
