"""Duplicate detection across sources.

Exact duplicates: the sha256 of the article text after normalisation (Unicode NFKC, lower case, words only, single
spaces). Syndicated copies of one story share it; ``articles.duplicate_of`` points to the earliest such article.

Near duplicates: a 64-bit SimHash (Charikar 2002) of the normalised text, with its words as features weighted by
their counts. Two texts are near duplicates when their SimHashes differ in at most ``NEAR_DUPLICATE_MAX_BITS`` = 3
bits, the threshold Manku, Jain and Das Sarma (WWW 2007) found right for 64-bit fingerprints of web pages. On our
fixtures a retitled story with two words changed is 3 bits away; different stories on the same topics 16 or more.
(Word 3-shingles were tried first: too sensitive for 150-word news items, where one edit moved them 9-10 bits.) Candidates are found through four 16-bit bands
(pigeonhole: a distance of at most 3 leaves at least one band identical), each with an index; the distance is then
checked exactly. ``articles.near_duplicate_of`` points to the group's first article.

Texts shorter than ``MIN_WORDS`` are not fingerprinted: two short summaries say too little to call them one story.
"""

from __future__ import annotations

import hashlib
import unicodedata

from .text import WORD_RE

MIN_WORDS = 50
NEAR_DUPLICATE_MAX_BITS = 3
MAX_WORDS = 1000  # the SimHash looks at the first words only: enough to identify a story, bounded cost


def normalised_words(text: str) -> list[str]:
    """The words of a text as fingerprinted: NFKC, lower case, words only."""
    return WORD_RE.findall(unicodedata.normalize("NFKC", text).lower())


def fingerprints(text: str | None) -> tuple[str | None, int | None]:
    """(content hash, SimHash) of a text, normalised once; (None, None) for a text too short to identify a story."""
    if not text:
        return None, None
    words = normalised_words(text)
    if len(words) < MIN_WORDS:
        return None, None
    return hashlib.sha256(" ".join(words).encode("utf-8")).hexdigest(), _simhash(words[:MAX_WORDS])


def content_hash(text: str | None) -> str | None:
    """sha256 of the normalised words, or None for a text too short to identify a story."""
    return fingerprints(text)[0]


def simhash(text: str | None) -> int | None:
    """64-bit SimHash of the text's words (weighted by count) as a signed integer (PostgreSQL bigint), or None."""
    return fingerprints(text)[1]


# Each word's 64-bit hash (blake2b, 8 bytes, little-endian) is kept "spread": bit j of the hash becomes bit j * _LANE
# of a Python integer. Adding the spread integers of all the words then counts, in lane j, how many words set bit j
# (a lane holds up to 2**_LANE - 1 > MAX_WORDS, so no count spills into the next), in one C-level sum() instead of a
# Python loop over 64 bit positions per word.
_LANE = 11
assert MAX_WORDS < 2 ** _LANE
_LANE_MASK = (1 << _LANE) - 1
_SPREAD: dict[str, int] = {}  # word -> its spread hash; news vocabulary repeats, so most words are known
_SPREAD_MAX = 200_000


def _spread(word: str) -> int:
    h = int.from_bytes(hashlib.blake2b(word.encode("utf-8"), digest_size=8).digest(), "little")
    spread = 0
    while h:
        low = h & -h  # lowest set bit
        spread |= 1 << ((low.bit_length() - 1) * _LANE)
        h ^= low
    return spread


def _simhash(words: list[str]) -> int:
    """Bit j of the fingerprint is set when more than half of the word occurrences have bit j set in their hash
    (counts weigh the features)."""
    if len(_SPREAD) + len(words) > _SPREAD_MAX:
        _SPREAD.clear()
    for word in set(words).difference(_SPREAD):
        _SPREAD[word] = _spread(word)
    total = sum(map(_SPREAD.__getitem__, words))
    n = len(words)
    fingerprint = 0
    for bit in range(64):
        if 2 * ((total >> (bit * _LANE)) & _LANE_MASK) > n:
            fingerprint |= 1 << bit
    return fingerprint - (1 << 64) if fingerprint >= 1 << 63 else fingerprint


def hamming(a: int, b: int) -> int:
    return ((a ^ b) & ((1 << 64) - 1)).bit_count()
