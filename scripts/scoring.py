"""Article-extraction scoring: the method of the article-extraction-benchmark (Scrapinghub).

Tokens are ``\\w+`` matches (Unicode, case kept). Each text becomes a multiset of 4-token shingles
(a text with fewer than 4 tokens forms one shorter shingle). Per document, the shingle multisets of the
prediction and the ground truth give tp/fp/fn, normalised so that tp + fp + fn = 1.

* precision = mean of per-document precision over documents with tp + fp > 0
* recall    = mean of per-document recall over documents with tp + fn > 0
* among those, a document with fp = fn = 0 counts as precision = recall = 1 (two empty texts
  are in neither mean)
* F1 = 2PR / (P + R), computed from the two means (not a mean of per-document F1s)
* accuracy = share of documents whose token list equals the ground truth's
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

_TOKEN_RE = re.compile(r"\w+", re.UNICODE)
SHINGLE_SIZE = 4


def tokenize(text: str | None) -> list[str]:
    return _TOKEN_RE.findall(text or "")


def shingles(tokens: list[str], n: int = SHINGLE_SIZE) -> Counter:
    """Multiset of n-gram shingles; fewer than n tokens give one shorter shingle (none for no tokens)."""
    if not tokens:
        return Counter()
    if len(tokens) < n:
        return Counter([tuple(tokens)])
    return Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))


def doc_counts(predicted: str | None, truth: str | None) -> tuple[float, float, float]:
    """Normalised (tp, fp, fn) of one document; all zero when both texts have no tokens."""
    pred, true = shingles(tokenize(predicted)), shingles(tokenize(truth))
    tp = sum((pred & true).values())
    fp = sum((pred - true).values())
    fn = sum((true - pred).values())
    total = tp + fp + fn
    if total == 0:
        return 0.0, 0.0, 0.0
    return tp / total, fp / total, fn / total


@dataclass
class Score:
    f1: float
    precision: float
    recall: float
    accuracy: float
    n_docs: int

    def as_dict(self) -> dict:
        return {
            "f1": self.f1,
            "precision": self.precision,
            "recall": self.recall,
            "accuracy": self.accuracy,
            "n_docs": self.n_docs,
        }


def score(pairs: Iterable[tuple[str | None, str | None]]) -> Score:
    """Score (predicted, truth) text pairs with the benchmark's method."""
    precisions: list[float] = []
    recalls: list[float] = []
    exact = 0
    n = 0
    for predicted, truth in pairs:
        n += 1
        if tokenize(predicted) == tokenize(truth):
            exact += 1
        tp, fp, fn = doc_counts(predicted, truth)
        perfect = fp == 0 and fn == 0
        if tp + fp > 0:
            precisions.append(1.0 if perfect else tp / (tp + fp))
        if tp + fn > 0:
            recalls.append(1.0 if perfect else tp / (tp + fn))
    p = sum(precisions) / len(precisions) if precisions else 0.0
    r = sum(recalls) / len(recalls) if recalls else 0.0
    f1 = 2 * p * r / (p + r) if p + r > 0 else 0.0
    return Score(f1=f1, precision=p, recall=r, accuracy=exact / n if n else 0.0, n_docs=n)

