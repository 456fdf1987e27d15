"""Multi-label article classifier: regulation, adoption, mining.

Weighted phrase rules from ``config/taxonomy.yml`` (definitions, scoring and thresholds: docs/LABELS.md).
Every phrase of every label goes into one phrase matcher (plus one for case-sensitive acronyms) working on word
tokens, so classifying an article costs a few C-level passes per field and a loop over the matched words only.

    raw(label)   = sum over fields of field_weight * sum over distinct matched phrases of
                   weight * min(count, max_count) ** count_exponent
    score(label) = 1 - exp(-max(raw, 0) / scale)
    label applies when score >= threshold(label)

Only the first ``body_max_words`` words of the body are read (the lede carries the topic; the rest of a long
article adds cost, not signal), and feed boilerplate ("Continue reading ...", "The post ... appeared first on
...") is cut from the summary, so that the title repeated inside it is not counted twice.
"""

from __future__ import annotations

import contextlib
import json
import math
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import yaml

from .config import PROJECT_ROOT
from .entities import Entity, PhraseMatcher, analyse, canonical_hash, canonical_phrase, get_tagger

LABELS = ("regulation", "adoption", "mining")
FIELDS = ("title", "summary", "text")
DEFAULT_TAXONOMY_FILE = PROJECT_ROOT / "config" / "taxonomy.yml"
MAX_EVIDENCE = 6
# feed boilerplate that repeats the title: "... Continue reading <title>", "The post <title> appeared first on <site>"
_BOILERPLATE = re.compile(r"\s*(?:Continue reading\b|The post\b.{0,400}?\bappeared first on\b).*$", re.S)


def strip_boilerplate(summary: str | None) -> str | None:
    """A summary without the feed boilerplate that repeats the title."""
    if not summary or ("Continue reading" not in summary and "appeared first on" not in summary):
        return summary
    return _BOILERPLATE.sub("", summary)


def lede(text: str | None, max_words: int) -> str | None:
    """The first ``max_words`` words of ``text`` (all of it when ``max_words`` is 0 or the text is shorter)."""
    if not text or max_words <= 0 or len(text) < max_words * 4:
        return text
    words = text.split(None, max_words)
    if len(words) <= max_words:
        return text
    return " ".join(words[:max_words])


@dataclass(frozen=True)
class Classification:
    labels: list[str]
    scores: dict[str, float]
    evidence: dict[str, list[str]]
    entities: list[Entity] = field(default_factory=list)
    version: str = ""

    def to_dict(self) -> dict:
        return {
            "labels": list(self.labels),
            "scores": dict(self.scores),
            "evidence": {k: list(v) for k, v in self.evidence.items()},
            "entities": [e.to_dict() for e in self.entities],
            "version": self.version,
        }


class Classifier:
    def __init__(self, taxonomy_path: str | Path | None = None):
        self.taxonomy_path = Path(taxonomy_path) if taxonomy_path else DEFAULT_TAXONOMY_FILE
        data = yaml.safe_load(self.taxonomy_path.read_text(encoding="utf-8"))
        self.tagger = get_tagger()
        digest = canonical_hash({"taxonomy": data, "entities": self.tagger.hash})
        self.version = f"{data['version']}+{digest[:8]}"
        self.field_weights = {f: float(data["fields"][f]) for f in FIELDS}
        self.max_count = int(data.get("max_count", 4))
        self.count_exponent = float(data.get("count_exponent", 0.5))
        self.scale = float(data.get("scale", 3.0))
        self.no_context_factor = float(data.get("no_crypto_context_factor", 1.0))
        self.body_max_words = int(data.get("body_max_words", 0))
        self.thresholds: dict[str, float] = {}
        lower: dict[str, list[tuple[str, float]]] = defaultdict(list)
        cased: dict[str, list[tuple[str, float]]] = defaultdict(list)
        for label in LABELS:
            spec = data["labels"][label]
            self.thresholds[label] = float(spec["threshold"])
            for phrase, weight in (spec.get("terms") or {}).items():
                lower[canonical_phrase(str(phrase))].append((label, float(weight)))
            for phrase, weight in (spec.get("case_terms") or {}).items():
                cased[canonical_phrase(str(phrase), lower=False)].append((label, float(weight)))
        self.lower_weights = dict(lower)
        self.cased_weights = dict(cased)
        self.lower_matcher = PhraseMatcher(self.lower_weights)
        self.cased_matcher = PhraseMatcher(self.cased_weights, lower=False)

    def classify(self, title: str | None, summary: str | None, text: str | None) -> Classification:
        raw = dict.fromkeys(LABELS, 0.0)
        contributions: dict[str, list[tuple[float, str, str]]] = {label: [] for label in LABELS}
        analysed = []
        fields = (title, strip_boilerplate(summary), lede(text, self.body_max_words))
        for name, original in zip(FIELDS, fields):
            field = analyse(original)
            analysed.append(field)
            if not field.original:
                continue
            fw = self.field_weights[name]
            matches = [(self.lower_weights[p], hit) for p, hit in self.lower_matcher.count(field).items()]
            matches += [(self.cased_weights[p], hit) for p, hit in self.cased_matcher.count(field).items()]
            for weights, (count, surface) in matches:
                boost = min(count, self.max_count) ** self.count_exponent
                for label, weight in weights:
                    value = fw * weight * boost
                    raw[label] += value
                    contributions[label].append((value, name, surface))
        entities, crypto_context = self.tagger.scan(analysed)
        factor = 1.0 if crypto_context else self.no_context_factor
        scores, labels, evidence = {}, [], {}
        for label in LABELS:
            score = 1.0 - math.exp(-max(raw[label] * factor, 0.0) / self.scale)
            scores[label] = round(score, 4)
            if score >= self.thresholds[label]:
                labels.append(label)
            positive = sorted((c for c in contributions[label] if c[0] > 0), key=lambda c: (-c[0], c[1], c[2]))
            if positive:
                evidence[label] = [f'{name}: "{surface}"' for _, name, surface in positive[:MAX_EVIDENCE]]
        return Classification(sorted(labels), scores, evidence, entities, self.version)


@lru_cache(maxsize=1)
def get_classifier() -> Classifier:
    return Classifier()


# ---------------------------------------------------------------------------------------------------------
# Batch and evaluation


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


def _ratio(a: float, b: float) -> float:
    return a / b if b else 0.0


def evaluate(items: Iterable[dict], classifier: Classifier | None = None) -> dict:
    """Per-label confusion counts, precision, recall and F1, and the macro-F1 over the labels."""
    clf = classifier or get_classifier()
    counts = {label: {"tp": 0, "fp": 0, "fn": 0, "tn": 0} for label in LABELS}
    n = 0
    for item in items:
        n += 1
        gold = set(item.get("labels") or [])
        predicted = set(clf.classify(item.get("title"), item.get("summary"), item.get("text")).labels)
        for label in LABELS:
            key = ("t" if (label in gold) == (label in predicted) else "f") + (
                "p" if label in predicted else "n"
            )
            counts[label][key] += 1
    per_label = {}
    for label, c in counts.items():
        p = _ratio(c["tp"], c["tp"] + c["fp"])
        r = _ratio(c["tp"], c["tp"] + c["fn"])
        per_label[label] = {**c, "precision": p, "recall": r, "f1": _ratio(2 * p * r, p + r)}
    macro = sum(v["f1"] for v in per_label.values()) / len(LABELS)
    return {"items": n, "labels": per_label, "macro_f1": macro, "version": clf.version}


def format_evaluation(report: dict) -> str:
    lines = [
        f"items: {report['items']}   classifier version: {report.get('version', '')}",
        f"{'label':<12}{'P':>7}{'R':>7}{'F1':>7}{'tp':>6}{'fp':>6}{'fn':>6}{'tn':>6}",
    ]
    for label, v in report["labels"].items():
        lines.append(
            f"{label:<12}{v['precision']:>7.3f}{v['recall']:>7.3f}{v['f1']:>7.3f}"
            f"{v['tp']:>6}{v['fp']:>6}{v['fn']:>6}{v['tn']:>6}"
        )
    lines.append(f"{'macro-F1':<12}{'':>14}{report['macro_f1']:>7.3f}")
    return "\n".join(lines)
