"""The extractor's settings, all in one place (docs/EXTRACTION.md explains each choice). Bump
``SETTINGS_REVISION`` whenever one changes, so that stored rows say which settings produced them."""

from __future__ import annotations

from typing import Literal, get_args

import trafilatura

from ..model import EARLIEST_TRUSTED, FUTURE_TOLERANCE  # noqa: F401 - the extractor's settings in one place

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

# Page dates later than now + FUTURE_TOLERANCE or earlier than EARLIEST_TRUSTED are not trusted (model.py: the
# same bounds as for feed dates).

PageStatus = Literal["ok", "empty", "not_html", "too_short", "paywall_or_teaser", "blocked", "parse_error", "too_large"]
STATUSES: tuple[PageStatus, ...] = get_args(PageStatus)
