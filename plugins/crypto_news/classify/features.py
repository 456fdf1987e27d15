"""What the learned model reads of a unit of text (a headline with its summary, or a passage of the body).

* words: the Snowball (Porter 2) stems of the unit's words and the pairs of neighbouring stems, as binary
  features scaled to unit length, so that a long unit does not outweigh a short one (the passage model reads
  the stems alone, counted with repeats, scaled the same way);
* rules: ``log1p`` of each label's raw score from the taxonomy (:class:`.rules.RuleScorer`): the reviewed
  phrase lists and actor/action rules, as evidence the model weighs instead of a verdict;
* entities: whether a jurisdiction, regulator or asset is named.

Stems are cached per word form: stemming is the one costly step and news reuses a small vocabulary.
"""

from __future__ import annotations

import math
from typing import cast

import snowballstemmer

from .entities import clean

_STEMMER = snowballstemmer.stemmer("english")
_STEMS: dict[str, str] = {}
_STEM_CACHE_LIMIT = 500_000
ENTITY_KINDS = ("jurisdiction", "regulator", "asset")


def stem(word: str) -> str:
    s = _STEMS.get(word)
    if s is None:
        if len(_STEMS) > _STEM_CACHE_LIMIT:
            _STEMS.clear()
        s = _STEMS[word] = _STEMMER.stemWord(word)
    return s


def tokens_of(text: str | None) -> list[str]:
    """``text``'s words in order: punctuation removed, lower case."""
    return clean(text).lower().split() if text else []


def stems_of(text: str | None, tokens: list[str] | None = None) -> list[str]:
    """The stems of ``text``'s words (or of ``tokens``), in order."""
    if tokens is None:
        tokens = tokens_of(text)
    cached = list(map(_STEMS.get, tokens))  # in C; only words never seen before go through the stemmer
    if None in cached:
        return [s if s is not None else stem(w) for s, w in zip(cached, tokens, strict=True)]
    return cast("list[str]", cached)  # no None left: every word's stem was cached


def passage_features(*texts: str | None) -> list[str]:
    """What the passage model reads: the stems, with their repeats (a passage that returns to its topic counts
    it each time). Windows of a long body are scored by one sum per half window over these
    (:meth:`.model.Head.window_probabilities`)."""
    out: list[str] = []
    for text in texts:
        out.extend(stems_of(text))
    return out


def word_features(*texts: str | None) -> set[str]:
    """The stems of each text's words and the pairs of neighbouring stems (a pair never spans two texts: a
    title's last word and a summary's first word are not a phrase)."""
    feats: set[str] = set()
    for text in texts:
        stems = stems_of(text)
        feats.update(stems)
        # neighbouring pairs (stems[1:] is one shorter, on purpose)
        feats.update([a + " " + b for a, b in zip(stems, stems[1:], strict=False)])
    return feats


def dense_features(raw: dict[str, float], entity_kinds: set[str],
                   labels: tuple[str, ...]) -> dict[str, float]:
    """The taxonomy's evidence as numbers: ``log1p`` of each label's raw score, and whether a jurisdiction, a
    regulator or an asset is named."""
    feats = {f"rule:{label}": math.log1p(max(raw.get(label, 0.0), 0.0)) for label in labels}
    for kind in ENTITY_KINDS:
        feats[f"entity:{kind}"] = 1.0 if kind in entity_kinds else 0.0
    return feats
