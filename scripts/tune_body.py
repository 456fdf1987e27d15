"""How the body settings were chosen: the grid of body span and body threshold floor on the tuning articles.

    .venv/bin/python scripts/tune_body.py [data/articles/articles.jsonl]

The tuning articles (data/articles/articles.jsonl, written for this purpose in our own words) tell a second or
third topic only in the body, or mention a regulator, a miner or a merchant only in passing. For each setting the
script prints macro-F1 and per-label F1 of the committed model with those body settings; the chosen setting goes
into ``SETTINGS`` in crypto_news/classify/train.py (then ``make train``). The figures we report for the body come
from a second, separate set (data/articles/test.jsonl) that was never used here.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from crypto_news.classify import LABELS, Classifier
from crypto_news.classify.evaluate import scores

DEFAULT = Path(__file__).resolve().parents[1] / "data" / "articles" / "articles.jsonl"


def main(argv: list[str]) -> None:
    path = Path(argv[0]) if argv else DEFAULT
    items = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    gold = [set(item["labels"]) for item in items]
    clf = Classifier()
    passage_thresholds = clf.model.passage.threshold
    print(f"{len(items)} articles; passage-model thresholds {dict(zip(LABELS, passage_thresholds))}")
    print(f"{'span':>4} {'floor':>6} {'macro':>7} " + " ".join(f"{label:>10}" for label in LABELS))
    for span in (1, 2, 3):
        for floor in (0.5, 0.6, 0.7, 0.8, 0.9):
            clf.body_span = span
            clf.body_thresholds = {label: max(t, floor) for label, t in zip(LABELS, passage_thresholds)}
            predicted = [set(clf.classify(i["title"], i["summary"], i["text"]).labels) for i in items]
            s = scores(gold, predicted)
            print(f"{span:>4} {floor:>6.2f} {s['macro_f1']:>7.3f} "
                  + " ".join(f"{s['labels'][label]['f1']:>10.3f}" for label in LABELS))
    predicted = [set(clf.classify(i["title"], i["summary"], None).labels) for i in items]
    s = scores(gold, predicted)
    print(f"headline only: macro {s['macro_f1']:.3f} " + " ".join(f"{label} {s['labels'][label]['f1']:.3f}" for label in LABELS))


if __name__ == "__main__":
    main(sys.argv[1:])
