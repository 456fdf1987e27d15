"""Clean-up of extracted text: boilerplate lines, paragraphs."""

from __future__ import annotations

import re

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
