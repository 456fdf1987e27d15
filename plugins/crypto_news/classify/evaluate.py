"""Measuring the classifier: precision, recall and F1 per label with bootstrap 95 % intervals, the largest kinds
of error, cross-validation and a learning curve (docs/LABELS.md gives the figures and the commands)."""

from __future__ import annotations

import contextlib
import json
import random
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from .classifier import Classifier, get_classifier
from .rules import LABELS

BOOTSTRAP_ROUNDS = 1000


def _ratio(a: float, b: float) -> float:
    return a / b if b else 0.0


def scores(gold: list[set[str]], predicted: list[set[str]]) -> dict:
    """Confusion counts, precision, recall and F1 per label, and the macro-F1."""
    per_label = {}
    for label in LABELS:
        c = Counter()
        for g, p in zip(gold, predicted):
            c[("t" if (label in g) == (label in p) else "f") + ("p" if label in p else "n")] += 1
        precision = _ratio(c["tp"], c["tp"] + c["fp"])
        recall = _ratio(c["tp"], c["tp"] + c["fn"])
        per_label[label] = {"tp": c["tp"], "fp": c["fp"], "fn": c["fn"], "tn": c["tn"], "precision": precision,
                            "recall": recall, "f1": _ratio(2 * precision * recall, precision + recall)}
    return {"labels": per_label, "macro_f1": sum(v["f1"] for v in per_label.values()) / len(LABELS)}


def bootstrap(gold: list[set[str]], predicted: list[set[str]], rounds: int = BOOTSTRAP_ROUNDS,
              seed: int = 13) -> dict[str, tuple[float, float]]:
    """95 % percentile intervals of each label's F1 and of the macro-F1, resampling items (fixed seed)."""
    rng = random.Random(seed)
    n = len(gold)
    samples: dict[str, list[float]] = {label: [] for label in (*LABELS, "macro")}
    if not n:
        return {k: (0.0, 0.0) for k in samples}
    for _ in range(rounds):
        idx = [rng.randrange(n) for _ in range(n)]
        s = scores([gold[i] for i in idx], [predicted[i] for i in idx])
        for label in LABELS:
            samples[label].append(s["labels"][label]["f1"])
        samples["macro"].append(s["macro_f1"])
    out = {}
    for k, values in samples.items():
        values.sort()
        out[k] = (values[int(0.025 * rounds)], values[min(int(0.975 * rounds), rounds - 1)])
    return out


def error_kinds(items: list[dict], predicted: list[set[str]], classifier: Classifier, top: int = 10) -> list:
    """((label, "missed" | "wrongly given", the feature that weighed most in that direction), count), largest first.

    A missed label names the feature that pulled its score down the most; a wrongly given one, the feature that
    pushed it up the most ("rule:<label>" is the taxonomy's score)."""
    kinds: Counter = Counter()
    for item, p in zip(items, predicted):
        gold = set(item.get("labels") or [])
        for label in LABELS:
            if (label in gold) == (label in p):
                continue
            contributions = classifier.contributions(item.get("title"), item.get("summary"), item.get("text"), label)
            if label in p:
                kind, feature = "wrongly given", next((f for c, f in contributions if c > 0), "bias")
            else:
                kind, feature = "missed", next((f for c, f in reversed(contributions) if c < 0), "no evidence")
            kinds[(label, kind, feature)] += 1
    return sorted(kinds.items(), key=lambda kv: (-kv[1], kv[0]))[:top]


def evaluate(items: Iterable[dict], classifier=None, rounds: int = BOOTSTRAP_ROUNDS) -> dict:
    """The report of ``classifier`` (the learned one by default; a :class:`.rules.RuleScorer` for the baseline)."""
    clf = classifier or get_classifier()
    items = list(items)
    gold = [set(item.get("labels") or []) for item in items]
    predicted = [set(clf.classify(item.get("title"), item.get("summary"), item.get("text")).labels) for item in items]
    report = {"items": len(items), **scores(gold, predicted), "version": clf.version}
    report["intervals"] = bootstrap(gold, predicted, rounds)
    report["errors"] = error_kinds(items, predicted, clf) if hasattr(clf, "contributions") else []
    return report


def format_evaluation(report: dict) -> str:
    ci = report.get("intervals") or {}
    lines = [
        f"items: {report['items']}   classifier version: {report.get('version', '')}",
        f"{'label':<12}{'P':>7}{'R':>7}{'F1':>7}  {'95% CI of F1':<15}{'tp':>6}{'fp':>6}{'fn':>6}{'tn':>6}",
    ]
    for label, v in report["labels"].items():
        lo, hi = ci.get(label, (float("nan"), float("nan")))
        lines.append(
            f"{label:<12}{v['precision']:>7.3f}{v['recall']:>7.3f}{v['f1']:>7.3f}  {f'{lo:.3f}-{hi:.3f}':<15}"
            f"{v['tp']:>6}{v['fp']:>6}{v['fn']:>6}{v['tn']:>6}"
        )
    lo, hi = ci.get("macro", (float("nan"), float("nan")))
    lines.append(f"{'macro-F1':<12}{'':>14}{report['macro_f1']:>7.3f}  {f'{lo:.3f}-{hi:.3f}':<15}")
    if report.get("errors"):
        lines.append("largest kinds of error (label, direction, the feature that weighed most that way):")
        for (label, kind, feature), count in report["errors"]:
            lines.append(f"  {count:>4}  {label} {kind}: {feature}")
    return "\n".join(lines)


def classify_jsonl(infile, outfile) -> int:
    """Classify JSON Lines (id, title, summary, text; each optional) into JSON Lines of id + classification.

    ``infile``/``outfile`` are paths or open text files. Returns the number of items written.
    """
    clf = get_classifier()
    n = 0
    with contextlib.ExitStack() as stack:
        src = stack.enter_context(open(infile, encoding="utf-8")) if isinstance(infile, (str, Path)) else infile
        dst = (
            stack.enter_context(open(outfile, "w", encoding="utf-8"))
            if isinstance(outfile, (str, Path))
            else outfile
        )
        for line in src:
            line = line.strip()
            if not line:
                continue
            item = json.loads(line)
            result = clf.classify(item.get("title"), item.get("summary"), item.get("text"))
            dst.write(json.dumps({"id": item.get("id"), **result.to_dict()}, ensure_ascii=False) + "\n")
            n += 1
    return n


def cross_validate(items: list[dict], k: int = 10, fraction: float = 1.0, settings: dict | None = None,
                   written: list[dict] | None = None) -> list[set]:
    """Labels predicted for each item by a model trained, with its own inner cross-validation for calibration and
    thresholds, on the other ``k - 1`` folds (of which the first ``fraction`` by id hash, for a learning curve)
    plus the ``written`` items (ours, always training items, never predicted). Nothing about an item's fold is
    seen before it is predicted."""
    from threadpoolctl import threadpool_limits

    from . import train
    from .model import Model

    settings = settings or train.SETTINGS
    rules = get_classifier().rules
    written = written or []
    feats = train.featurise(items, rules)
    written_feats = train.featurise(written, rules)
    folds = [train.fold_of("outer:" + item["id"], k) for item in items]
    keep = [train.fold_of("subsample:" + item["id"], 1000) < fraction * 1000 for item in items]
    predicted: list[set] = [set() for _ in items]
    with threadpool_limits(1):
        for f in range(k):
            train_idx = [i for i in range(len(items)) if folds[i] != f and keep[i]]
            params = train.fit([items[i] for i in train_idx] + written,
                               [feats[i] for i in train_idx] + written_feats, settings)
            model = Model({"format": 1, "version": f"cv{f}", "labels": list(LABELS), "settings": settings,
                           "taxonomy_version": rules.version, **params})
            clf = Classifier(model=model, rules=rules)
            for i in range(len(items)):
                if folds[i] == f:
                    item = items[i]
                    predicted[i] = set(clf.classify(item["title"], item["summary"], item.get("text")).labels)
    return predicted
