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
import re
import unicodedata
from collections import Counter

MIN_WORDS = 50
NEAR_DUPLICATE_MAX_BITS = 3
MAX_WORDS = 1000  # the SimHash looks at the first words only: enough to identify a story, bounded cost

_WORD = re.compile(r"\w+")
_BIT_POSITIONS = [[b for b in range(8) if v >> b & 1] for v in range(256)]


def normalise(text: str) -> list[str]:
    return _WORD.findall(unicodedata.normalize("NFKC", text).lower())


def fingerprints(text: str | None) -> tuple[str | None, int | None]:
    """(content hash, SimHash) of a text, normalised once; (None, None) for a text too short to identify a story."""
    if not text:
        return None, None
    words = normalise(text)
    if len(words) < MIN_WORDS:
        return None, None
    return hashlib.sha256(" ".join(words).encode("utf-8")).hexdigest(), _simhash(words[:MAX_WORDS])


def content_hash(text: str | None) -> str | None:
    """sha256 of the normalised words, or None for a text too short to identify a story."""
    return fingerprints(text)[0]


def simhash(text: str | None) -> int | None:
    """64-bit SimHash of the text's words (weighted by count) as a signed integer (PostgreSQL bigint), or None."""
    return fingerprints(text)[1]


_WORD_HASHES: dict[str, bytes] = {}  # word -> its 8-byte hash; news vocabulary repeats, so most words are known
_WORD_HASHES_MAX = 300_000


def _word_hash(word: str) -> bytes:
    h = _WORD_HASHES.get(word)
    if h is None:
        if len(_WORD_HASHES) >= _WORD_HASHES_MAX:
            _WORD_HASHES.clear()
        h = _WORD_HASHES[word] = hashlib.blake2b(word.encode("utf-8"), digest_size=8).digest()
    return h


def _simhash(words: list[str]) -> int:
    packed = b"".join(map(_word_hash, words))  # one 8-byte hash per occurrence: counts weigh the features
    n = len(words)
    weights = [0] * 64
    for byte_pos in range(8):  # count, for each of the 64 bit positions, how many word hashes set it
        for value, count in Counter(packed[byte_pos::8]).items():
            for bit in _BIT_POSITIONS[value]:
                weights[byte_pos * 8 + bit] += count
    fingerprint = 0
    for i, w in enumerate(weights):
        if 2 * w > n:
            fingerprint |= 1 << i
    return fingerprint - (1 << 64) if fingerprint >= 1 << 63 else fingerprint


def hamming(a: int, b: int) -> int:
    return ((a ^ b) & ((1 << 64) - 1)).bit_count()
