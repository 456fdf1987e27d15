"""Honest figures for the classifier (docs/LABELS.md quotes them).

    .venv/bin/python scripts/evaluate_classifier.py [--folds 10] [--curve 0.25,0.5,0.75,1]

1. k-fold cross-validation on data/labels/pool.jsonl: every prediction comes from a model that never saw the
   item, with thresholds and calibration chosen by an inner cross-validation inside each training fold;
2. the held-out fifth: items whose number ends in 4 or 9 were kept out of every design decision made by looking
   at errors; a model trained on the other four fifths labels them;
3. the learning curve: the same folds with the training folds subsampled (does more data still help?);
4. the committed model on ../shared/labels/dev.jsonl, which no training, tuning or setting ever used;
5. the committed model on whole articles (data/articles): the tuning set that chose the body settings and the
   separate test set, each with and without the body.

Needs scikit-learn (the dev extra) and ../shared.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from crypto_news.classify import LABELS, Classifier, evaluate, format_evaluation, get_classifier
from crypto_news.classify.evaluate import bootstrap, cross_validate, error_kinds, scores
from crypto_news.classify.model import Model
from crypto_news.classify.train import (
    DEFAULT_LABELS,
    MODEL_FORMAT,
    POOL_ITEMS,
    SETTINGS,
    SHARED,
    featurise,
    fit,
    load_items,
    load_written,
)

ROOT = Path(__file__).resolve().parents[1]


def held_out(item_id: str) -> bool:
    return int(item_id[1:]) % 5 == 4


def report_of(items, predicted, clf, version) -> dict:
    gold = [set(i["labels"]) for i in items]
    return {"items": len(items), **scores(gold, predicted), "version": version,
            "intervals": bootstrap(gold, predicted), "errors": error_kinds(items, predicted, clf)}


def brief(report: dict) -> dict:
    return {"macro_f1": round(report["macro_f1"], 4),
            **{label: round(report["labels"][label]["f1"], 4) for label in LABELS}}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folds", type=int, default=10)
    parser.add_argument("--curve", default="0.25,0.5,0.75,1")
    parser.add_argument("--labels", type=Path, default=DEFAULT_LABELS)
    args = parser.parse_args(argv)
    items = load_items(args.labels, POOL_ITEMS)
    written = load_written()  # ours: in every training fold, never predicted
    clf = get_classifier()
    summary: dict = {"model": clf.version}

    start = time.perf_counter()
    predicted = cross_validate(items, args.folds, written=written)
    report = report_of(items, predicted, clf, "cross-validated")
    print(f"== {args.folds}-fold cross-validation on {args.labels.name} ({time.perf_counter() - start:.0f} s; the "
          f"{len(written)} written items are in every training fold and never predicted)")
    print(format_evaluation(report))
    summary["cross_validation"] = brief(report)

    design = [i for i in items if not held_out(i["id"])]
    test = [i for i in items if held_out(i["id"])]
    params = fit(design + written, featurise(design + written, clf.rules))
    model = Model({"format": MODEL_FORMAT, "version": "design-fifths", "labels": list(LABELS),
                   "settings": SETTINGS, "taxonomy_version": clf.rules.version, **params})
    design_clf = Classifier(model=model, rules=clf.rules)
    predicted = [set(design_clf.classify(i["title"], i["summary"], None).labels) for i in test]
    report = report_of(test, predicted, design_clf, "trained on the other four fifths")
    print(f"\n== held-out fifth ({len(test)} items never looked at while designing; model trained on {len(design)} "
          f"real and {len(written)} written items)")
    print(format_evaluation(report))
    summary["held_out_fifth"] = brief(report)

    print("\n== learning curve (same folds, training folds subsampled)")
    curve = []
    for fraction in [float(x) for x in args.curve.split(",") if x]:
        s = scores([set(i["labels"]) for i in items], cross_validate(items, args.folds, fraction, written=written))
        n = round(len(items) * (args.folds - 1) / args.folds * fraction)
        curve.append({"fraction": fraction, "train_items": n, **brief(s)})
        print(f"  {fraction:>5.2f}  ~{n:>5} training items  macro-F1 {s['macro_f1']:.3f}  "
              + "  ".join(f"{label} {s['labels'][label]['f1']:.3f}" for label in LABELS))
    summary["learning_curve"] = curve

    dev = SHARED / "labels" / "dev.jsonl"
    if dev.exists():
        print("\n== committed model on the development set (never used for training, tuning or settings)")
        report = evaluate([json.loads(line) for line in dev.open(encoding="utf-8") if line.strip()])
        print(format_evaluation(report))
        summary["dev"] = brief(report)

    for name in ("articles", "test"):
        path = ROOT / "data" / "articles" / f"{name}.jsonl"
        if not path.exists():
            continue
        articles = [json.loads(line) for line in path.open(encoding="utf-8") if line.strip()]
        role = "tuning set of the body settings" if name == "articles" else "test set, never used for tuning"
        report = evaluate(articles)
        headline = evaluate([{**a, "text": None} for a in articles])
        print(f"\n== whole articles, {path.name} ({role}); headline only: macro-F1 {headline['macro_f1']:.3f}")
        print(format_evaluation(report))
        summary[f"articles_{name}"] = {"whole": brief(report), "headline_only": brief(headline)}
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
