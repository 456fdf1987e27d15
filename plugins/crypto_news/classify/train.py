"""Training: ``make train`` rebuilds ``model.json`` from the label files and the item text under
``../shared``.

    .venv/bin/python -m crypto_news.classify.train [--labels data/labels/pool.jsonl] [--out PATH]

Deterministic: folds come from a hash of each item's id, the solver is deterministic and runs on one thread,
and weights are rounded, so the same label files, text, settings and taxonomy give the same file byte for
byte. The model's version is a hash of all of those, so a new model re-labels every article
(``reclassify``).

The procedure (numbers in :data:`SETTINGS`):

1. each item's headline unit is featurised once (:mod:`.features`);
2. ``inner_folds``-fold cross-validation on the training items gives every item a score it was not trained on,
   for the headline model and for the words-only passage model;
3. a Platt sigmoid per label and model is fitted on those scores, and each label's threshold is the one that
   maximises F1 on them (the passage model's, raised to at least ``body_floor``, is the body threshold);
4. both models are refitted on all the training items; rare words (fewer than ``min_df`` items) are dropped.

Needs scikit-learn (the ``dev`` extra); the pipeline itself only reads the resulting JSON.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from ..config import PROJECT_ROOT
from .entities import canonical_hash
from .features import dense_features, passage_features, word_features
from .model import DEFAULT_MODEL_FILE, MODEL_FORMAT, sigmoid
from .rules import LABELS, RuleScorer

SHARED = PROJECT_ROOT.parent / "shared"
DEFAULT_LABELS = PROJECT_ROOT / "data" / "labels" / "pool.jsonl"
# headlines written in our own words to cover every concept of the labelling guide (data/labels/README.md);
# they are always training items, never test items: every figure we report is measured on real news only
DEFAULT_WRITTEN = PROJECT_ROOT / "data" / "labels" / "written.jsonl"
POOL_ITEMS = SHARED / "corpora" / "crypto-news-pool" / "items.jsonl"
SETTINGS = {
    "C": 4.0,  # inverse L2 strength of the logistic regressions
    "min_df": 2,
    "inner_folds": 5,
    "head_lead_sentences": 2,  # without a summary, this many first sentences of the body stand in for it
    # windows overlap by half: a topic told in two paragraphs fills at least one whole window
    "passage_words": 50,
    # a passage: windows in a row that must all reach the body threshold; 2 windows of 50 words overlapping by
    # half span 75 words, about one paragraph (scripts/tune_body.py: the best floor for that span)
    "body_span": 2,
    "body_floor": 0.7,  # the body threshold is the passage model's, raised to this
    "digits": 5,  # weights are rounded to this many decimals
}


# per item: (headline word features, dense features, passage word features: stems with their repeats)
Features = tuple[set[str], dict[str, float], list[str]]
# (vocabulary: word -> column, dense feature names (None: passage model), one LogisticRegression per label)
Fitted = tuple[dict[str, int], list[str] | None, list[Any]]
# what one model reads of an item: (headline words, dense features) or (passage stems, {})
View = tuple[set[str] | list[str], dict[str, float]]
_MODELS = (("head", True), ("passage", False))  # (name, whether it reads the dense features)


class TrainingError(RuntimeError):
    pass


def fold_of(item_id: str, k: int) -> int:
    return int(hashlib.sha256(item_id.encode()).hexdigest()[:8], 16) % k


def headline(item: dict) -> tuple[str, str]:
    """(title, summary); the " - Outlet" suffix of search-result titles is the outlet's name, not the
    story."""
    title = item.get("title") or ""
    source = item.get("source") or ""
    if source and title.endswith(" - " + source):
        title = title[: -len(source) - 3]
    return title, item.get("summary") or ""


def _labelled_rows(path: Path):
    """(line number, row) of a JSON Lines label file, blank lines skipped, labels checked and sorted."""
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            row = json.loads(line)
            bad = set(row["labels"]) - set(LABELS)
            if bad:
                raise TrainingError(f"{path}:{n}: unknown labels {sorted(bad)}")
            yield n, {**row, "labels": sorted(row["labels"])}


def load_items(labels_path: Path, items_path: Path = POOL_ITEMS) -> list[dict]:
    """Labelled items: ids and labels from ``labels_path``, text from ``items_path`` (read, never copied)."""
    if not items_path.exists():
        raise TrainingError(
            f"item text not found: {items_path} (the shared corpora must sit beside the project)"
        )
    text = {}
    with open(items_path, encoding="utf-8") as f:
        for line in f:
            item = json.loads(line)
            text[item["id"]] = item
    items = []
    for n, row in _labelled_rows(labels_path):
        if row["id"] not in text:
            raise TrainingError(f"{labels_path}:{n}: id {row['id']} is not in {items_path}")
        title, summary = headline(text[row["id"]])
        items.append({"id": row["id"], "title": title, "summary": summary, "labels": row["labels"]})
    return items


def load_written(path: Path = DEFAULT_WRITTEN) -> list[dict]:
    """Labelled items whose text is ours and kept in the repository (id, title, summary, labels)."""
    if not path.exists():
        return []
    return [{"id": row["id"], "title": row["title"], "summary": row.get("summary") or "",
             "labels": row["labels"], "written": True} for _, row in _labelled_rows(path)]


def featurise(items: list[dict], rules: RuleScorer) -> list[Features]:
    """Per item: (headline word features, dense features, passage word features)."""
    out = []
    for item in items:
        raw, _, entities, _ = rules.raw(item["title"], item["summary"], None)
        out.append((word_features(item["title"], item["summary"]),
                    dense_features(raw, {e.kind for e in entities}, LABELS),
                    passage_features(item["title"], item["summary"])))
    return out


def _matrix(feats: list[View], vocab: dict[str, int], dense_names: list[str] | None) -> Any:
    """Rows scaled to unit length over the known words: binary for a set of features, counts for a list."""
    import numpy as np
    from scipy import sparse

    rows, cols, vals = [], [], []
    width = len(vocab) + (len(dense_names) if dense_names else 0)
    for r, (words, dense) in enumerate(feats):
        counts = Counter(w for w in words if w in vocab)
        total = sum(counts.values())
        for w in sorted(counts):
            rows.append(r)
            cols.append(vocab[w])
            vals.append(counts[w] / math.sqrt(total))
        if dense_names:
            for j, name in enumerate(dense_names):
                if dense[name]:
                    rows.append(r)
                    cols.append(len(vocab) + j)
                    vals.append(dense[name])
    return sparse.csr_matrix((np.array(vals), (np.array(rows), np.array(cols))), shape=(len(feats), width))


def _vocab(feats: list[View], min_df: int) -> dict[str, int]:
    df: Counter[str] = Counter()
    for words, _ in feats:
        df.update(set(words))

    return {w: i for i, w in enumerate(sorted(w for w, c in df.items() if c >= min_df))}


def _view(feats: list[Features], dense: bool) -> list[View]:
    """The headline model reads (words, dense features); the passage model (stems, nothing else)."""
    return [(f[0], f[1]) for f in feats] if dense else [(f[2], {}) for f in feats]


def _fit(feats: list[Features], y: list[set[str]], settings: dict, dense: bool) -> Fitted:
    """(vocab, dense names, one fitted LogisticRegression per label)."""
    from sklearn.linear_model import LogisticRegression

    view = _view(feats, dense)
    vocab = _vocab(view, settings["min_df"])
    dense_names = sorted(view[0][1]) if dense else None
    X = _matrix(view, vocab, dense_names)
    models = []
    for i in range(len(LABELS)):
        target = [1 if LABELS[i] in labels else 0 for labels in y]
        lr = LogisticRegression(C=settings["C"], class_weight="balanced", solver="lbfgs", max_iter=5000)
        if len(set(target)) < 2:
            raise TrainingError(f"no positive and negative examples of {LABELS[i]} in a training fold")
        lr.fit(X, target)
        models.append(lr)
    return vocab, dense_names, models


def _decision(fitted: Fitted, feats: list[Features]) -> list[Any]:
    vocab, dense_names, models = fitted
    X = _matrix(_view(feats, dense_names is not None), vocab, dense_names)
    return [m.decision_function(X) for m in models]


def _platt(z: list[float], target: list[int]) -> list[float]:
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    lr = LogisticRegression(C=1e6, solver="lbfgs", max_iter=5000)
    lr.fit(np.asarray(z).reshape(-1, 1), target)
    return [float(lr.coef_[0][0]), float(lr.intercept_[0])]


def best_threshold(p: list[float], target: list[int]) -> float:
    """The probability threshold with the highest F1 (midway between neighbouring scores, so it does not sit
    on one item's score)."""
    pairs = sorted(zip(p, target, strict=True), reverse=True)
    positives = sum(target)
    tp = 0
    best, best_f1 = 0.5, -1.0
    for k, (score, t) in enumerate(pairs):
        tp += t
        nxt = pairs[k + 1][0] if k + 1 < len(pairs) else 0.0
        if nxt == score:
            continue
        f1 = 2 * tp / (k + 1 + positives) if positives else 0.0
        if f1 > best_f1:
            best, best_f1 = (score + nxt) / 2, f1
    return best


def fit(items: list[dict], feats: list[Features], settings: dict = SETTINGS) -> dict:
    """The model's parameters (without version) from labelled items and their features."""
    y = [set(item["labels"]) for item in items]
    k = settings["inner_folds"]
    # written items are in every inner training fold and never scored: calibration and thresholds come from
    # real news only
    folds = [-1 if item.get("written") else fold_of(item["id"], k) for item in items]
    real = [i for i in range(len(items)) if folds[i] >= 0]
    oof = _out_of_fold(feats, y, folds, k, settings)
    params: dict = {}
    digits = settings["digits"]
    for name, dense in _MODELS:
        platt, thresholds = _calibration(oof[name], y, real, digits)
        params[name] = {"platt": platt, "threshold": thresholds, "fitted": _fit(feats, y, settings, dense)}
    body_threshold = [max(t, settings["body_floor"]) for t in params["passage"]["threshold"]]
    out = {"words": _word_weights(params, digits), "body_threshold": body_threshold}
    for name, _ in _MODELS:
        out[name] = _linear_params(params[name], digits)
    return out


def _out_of_fold(feats: list[Features], y: list[set[str]], folds: list[int], k: int,
                 settings: dict) -> dict[str, list[list[float]]]:
    """Per model and label, each item's score from the models trained on the other inner folds (a written
    item, in every training fold, keeps 0.0)."""
    n = len(folds)
    oof = {"head": [[0.0] * n for _ in LABELS], "passage": [[0.0] * n for _ in LABELS]}
    for f in range(k):
        train = [i for i in range(n) if folds[i] != f]
        test = [i for i in range(n) if folds[i] == f]
        for name, dense in _MODELS:
            fitted = _fit([feats[i] for i in train], [y[i] for i in train], settings, dense)
            for j, z in enumerate(_decision(fitted, [feats[i] for i in test])):
                for i, value in zip(test, z, strict=True):
                    oof[name][j][i] = float(value)
    return oof


def _calibration(oof: list[list[float]], y: list[set[str]], real: list[int],
                 digits: int) -> tuple[list[list[float]], list[float]]:
    """(Platt sigmoid, threshold) per label, fitted on the out-of-fold scores of the real news items."""
    platt, thresholds = [], []
    for j, label in enumerate(LABELS):
        target = [1 if label in y[i] else 0 for i in real]
        z = [oof[j][i] for i in real]
        a, b = _platt(z, target)
        platt.append([round(a, digits), round(b, digits)])
        thresholds.append(round(best_threshold([sigmoid(a * v + b) for v in z], target), digits))
    return platt, thresholds


def _word_weights(params: dict, digits: int) -> dict[str, list[float]]:
    """Word -> the headline model's weights per label, then the passage model's (0.0 where a model does not
    know the word); words that both models weigh at 0.0 are left out."""
    words: dict[str, list[float]] = {}
    for column, name in ((0, "head"), (len(LABELS), "passage")):
        vocab, _, models = params[name]["fitted"]
        for w, idx in vocab.items():
            row = words.setdefault(w, [0.0] * (2 * len(LABELS)))
            for j, m in enumerate(models):
                row[column + j] = round(float(m.coef_[0][idx]), digits)
    return {w: row for w, row in sorted(words.items()) if any(row)}


def _linear_params(params: dict, digits: int) -> dict:
    """One model's dense weights, biases, Platt sigmoids and thresholds, as :class:`.model.Head` reads
    them."""
    vocab, dense_names, models = params["fitted"]
    dense_w = {}
    for j, dn in enumerate(dense_names or []):
        dense_w[dn] = [round(float(m.coef_[0][len(vocab) + j]), digits) for m in models]
    return {
        "dense": dense_w,
        "bias": [round(float(m.intercept_[0]), digits) for m in models],
        "platt": params["platt"],
        "threshold": params["threshold"],
    }


def build(labels_path: Path = DEFAULT_LABELS, items_path: Path = POOL_ITEMS, settings: dict = SETTINGS,
          written_path: Path = DEFAULT_WRITTEN) -> dict:
    from threadpoolctl import threadpool_limits

    rules = RuleScorer()
    items = load_items(labels_path, items_path) + load_written(written_path)
    with threadpool_limits(1):
        params = fit(items, featurise(items, rules), settings)
    digest = canonical_hash({
        "labels": [[item["id"], item["labels"]] for item in items],
        "written": hashlib.sha256(written_path.read_bytes()).hexdigest() if written_path.exists() else None,
        "text": hashlib.sha256(items_path.read_bytes()).hexdigest(),
        "settings": settings,
        "taxonomy": rules.version,
        "format": MODEL_FORMAT,
        "features": hashlib.sha256(Path(__file__).with_name("features.py").read_bytes()).hexdigest(),
        # and what came out: a change in the code that computes features or fits (rules.py, train.py) that
        # moves any weight gives a new version, so that stored labels are redone
        "parameters": params,
    })
    counts = {label: sum(label in item["labels"] for item in items) for label in LABELS}
    return {
        "format": MODEL_FORMAT,
        "version": f"m{MODEL_FORMAT}+{digest[:10]}",
        "labels": list(LABELS),
        "taxonomy_version": rules.version,
        "settings": settings,
        "training": {"items": len(items), "positives": counts, "label_file": labels_path.name,
                     "written_file": written_path.name if written_path.exists() else None},
        "head": params["head"],
        "passage": params["passage"],
        "body_threshold": params["body_threshold"],
        "words": params["words"],
    }


def dump(model: dict) -> str:
    """One line per word keeps the file diff-friendly and byte-stable."""
    head = {k: v for k, v in model.items() if k != "words"}
    lines = ["{", *(f"{json.dumps(k)}: {json.dumps(v, sort_keys=True)}," for k, v in head.items())]
    lines.append('"words": {')
    words = list(model["words"].items())
    for n, (w, row) in enumerate(words):
        comma = "," if n + 1 < len(words) else ""
        lines.append(f"{json.dumps(w, ensure_ascii=False)}: {json.dumps(row)}{comma}")
    lines += ["}", "}"]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="rebuild the classifier model from the label files")
    parser.add_argument("--labels", type=Path, default=DEFAULT_LABELS)
    parser.add_argument("--items", type=Path, default=POOL_ITEMS)
    parser.add_argument("--written", type=Path, default=DEFAULT_WRITTEN)
    parser.add_argument("--out", type=Path, default=DEFAULT_MODEL_FILE)
    args = parser.parse_args(argv)
    try:
        model = build(args.labels, args.items, written_path=args.written)
    except TrainingError as exc:
        print(f"crypto-news train: {exc}", file=sys.stderr)
        return 2
    args.out.write_text(dump(model), encoding="utf-8")
    t = model["training"]
    print(f"wrote {args.out} ({args.out.stat().st_size:,} bytes): model {model['version']}, "
          f"{t['items']} items, positives {t['positives']}, {len(model['words']):,} word features")
    return 0


if __name__ == "__main__":
    sys.exit(main())
