"""The learned model: two linear models over :mod:`.features`, read from a committed JSON file.

* the **headline** model reads the title and the summary (or, without a summary, the first sentences of the
  body) with the taxonomy's raw scores and entity cues; it is trained on labelled headlines (``make train``);
* the **passage** model reads words only and is trained on the same headlines; it scores windows of the body, so
  that a story whose second or third topic is told only in the body gets that label too.

Each model gives, per label, ``z = bias + sum(weight of each known word feature) / sqrt(number of known word
features) + sum(weight * dense feature)``; a Platt sigmoid ``p = 1 / (1 + exp(-(a * z + b)))`` fitted on
cross-validated scores turns ``z`` into a probability, and a label applies when ``p`` reaches the threshold
chosen by cross-validation (``body_threshold`` for passages). Inference is plain Python: a dictionary lookup per
feature, no numerical library at run time.
"""

from __future__ import annotations

import json
import math
from itertools import repeat
from pathlib import Path

import numpy as np

from .features import stem

MODEL_FORMAT = 1
ROW_CACHE_LIMIT = 500_000
DEFAULT_MODEL_FILE = Path(__file__).resolve().parent / "model.json"


class ModelError(RuntimeError):
    """The model file is missing, malformed, or was trained with another taxonomy than the one configured."""


def sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


class Head:
    """One linear model: per label a word-weight table, dense weights, a bias, a Platt sigmoid and a threshold."""

    def __init__(self, words: dict[str, list[float]], column: int, n_labels: int, dense: dict[str, list[float]],
                 bias: list[float], platt: list[list[float]], threshold: list[float]):
        self.tables = [{w: row[column + i] for w, row in words.items()} for i in range(n_labels)]
        self.vocabulary = frozenset(words)
        self.dense = dense
        self.bias = bias
        self.platt = platt
        self.threshold = threshold
        self._index: dict[str, int] | None = None  # built on first use of window_probabilities
        self._weights = None
        self._rows: dict[str, int] = {}
        self._bias = np.asarray(bias)
        self._platt_a, self._platt_b = np.asarray(platt, dtype=np.float64).T

    def z(self, feats, dense: dict[str, float] | None = None) -> list[float]:
        """The scores before the sigmoid; ``feats`` is any iterable of word features (repeats count once)."""
        known = self.vocabulary.intersection(feats)  # set operations and map/sum run in C
        z = list(self.bias)
        if known:
            scale = 1.0 / math.sqrt(len(known))
            for i, table in enumerate(self.tables):
                z[i] += scale * sum(map(table.__getitem__, known))
        if dense:
            for name, value in dense.items():
                ws = self.dense.get(name) if value else None
                if ws:
                    for i, w in enumerate(ws):
                        z[i] += w * value
        return z

    def _row_of(self, token: str) -> int:
        """The weight row of a word form (0: not in the vocabulary), cached per form."""
        if self._index is None:
            vocabulary = sorted(self.vocabulary)
            self._index = {w: k + 1 for k, w in enumerate(vocabulary)}
            # one row per word: its weight per label, then 1 (a known word; row 0, unknown words, is all zeros)
            rows = [[0.0] * (len(self.tables) + 1)] + [[t[w] for t in self.tables] + [1.0] for w in vocabulary]
            self._weights = np.array(rows, dtype=np.float64)
        if len(self._rows) > ROW_CACHE_LIMIT:
            self._rows.clear()
        row = self._rows[token] = self._index.get(stem(token), 0)
        return row

    def window_probabilities(self, tokens: list[str], size: int):
        """(probabilities, starts, ends) of the windows of ``size`` words that overlap by half (one window for a
        body of up to half that), counting repeats. One pass over the words in C (a cached word form -> weight
        row lookup), then one sum per half window in numpy, so that every window of a long body costs about as
        much as tokenising it."""
        n = len(tokens)
        idx = np.fromiter(map(self._rows.get, tokens, repeat(-1)), dtype=np.intp, count=n)
        missing = np.flatnonzero(idx < 0)  # word forms seen for the first time
        for k in missing.tolist():
            idx[k] = self._row_of(tokens[k])
        half = max(size // 2, 1)
        blocks = np.arange(0, n, half)  # windows are pairs of neighbouring half-size blocks
        sums = np.add.reduceat(self._weights[idx], blocks, axis=0)  # per half window: weights, known words
        if len(blocks) > 1:
            sums = sums[:-1] + sums[1:]
        known = sums[:, -1]
        starts = blocks[: len(known)]
        ends = np.minimum(starts + 2 * half, n)
        scale = 1.0 / np.sqrt(np.maximum(known, 1.0))  # a window without a known word scores its bias alone
        z = self._bias + sums[:, :-1] * scale[:, None]
        return 1.0 / (1.0 + np.exp(-(self._platt_a * z + self._platt_b))), starts, ends

    def probability(self, z: list[float]) -> list[float]:
        return [sigmoid(a * zi + b) for zi, (a, b) in zip(z, self.platt)]


class Model:
    def __init__(self, data: dict, source: str = "model"):
        if data.get("format") != MODEL_FORMAT:
            raise ModelError(f"{source}: model format {data.get('format')!r}, expected {MODEL_FORMAT}; run make train")
        try:
            self.version: str = data["version"]
            self.labels: tuple[str, ...] = tuple(data["labels"])
            self.taxonomy_version: str = data["taxonomy_version"]
            self.settings: dict = data["settings"]
            self.words: dict[str, list[float]] = data["words"]
            n = len(self.labels)
            self.head = Head(self.words, 0, n, **data["head"])
            self.passage = Head(self.words, n, n, **data["passage"])
            self.body_threshold: list[float] = data["body_threshold"]
            self.training: dict = data.get("training", {})
        except (KeyError, TypeError) as exc:
            raise ModelError(f"{source}: malformed model file ({exc}); run make train") from exc

    @classmethod
    def load(cls, path: str | Path | None = None) -> Model:
        path = Path(path) if path else DEFAULT_MODEL_FILE
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise ModelError(f"no model file at {path}; run make train") from exc
        except ValueError as exc:
            raise ModelError(f"{path}: not valid JSON ({exc}); run make train") from exc
        return cls(data, str(path))
