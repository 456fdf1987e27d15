"""The article classifier: the learned model (:mod:`.model`) over the taxonomy's evidence (:mod:`.rules`).

An article is read as a reader decides what it is about: its **headline** (title and summary; without a
summary, the first sentences of the body) gives each label a probability; then every **passage** of the body
(windows of ``passage_words`` words, overlapping by half) is scored by the passage model, so that a story that
tells its second topic only in the body (a blockchain plan that recalls a mining ban) gets that label too. A
label applies when the headline's probability reaches its threshold or the best passage's reaches the
(stricter) body threshold; its score is the larger of the two probabilities.

Evidence per label names what weighed most: the taxonomy phrases that matched, the headline words with the
largest weights, and, when the body decided, the passage's strongest words with their place in the body.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

from .features import dense_features, stems_of, tokens_of, word_features
from .model import Model, ModelError
from .rules import LABELS, MAX_EVIDENCE, Classification, RuleScorer, lede, split_sentences, strip_boilerplate


def head_summary(summary: str | None, text: str | None, lead_sentences: int) -> str | None:
    """The summary of the headline unit: the feed's summary, else the first sentences of the body."""
    summary = strip_boilerplate(summary)
    if summary and summary.strip():
        return summary
    if text:
        return split_sentences(lede(text, 80), lead_sentences)[0]
    return None


class Classifier:
    def __init__(self, model_path: str | Path | None = None, taxonomy_path: str | Path | None = None,
                 model: Model | None = None, rules: RuleScorer | None = None):
        self.rules = rules or RuleScorer(taxonomy_path)
        self.model = model or Model.load(model_path)
        if self.model.taxonomy_version != self.rules.version:
            raise ModelError(
                f"the model was trained with taxonomy {self.model.taxonomy_version}, "
                f"the configured taxonomy is {self.rules.version}; run make train"
            )
        if self.model.labels != LABELS:
            raise ModelError(f"the model's labels {self.model.labels} are not {LABELS}; run make train")
        self.version = self.model.version
        settings = self.model.settings
        self.lead_sentences = int(settings["head_lead_sentences"])
        self.passage_words = int(settings["passage_words"])
        self.body_span = int(settings.get("body_span", 1))
        self.thresholds = dict(zip(LABELS, self.model.head.threshold, strict=True))
        self.body_thresholds = dict(zip(LABELS, self.model.body_threshold, strict=True))

    def head_features(self, title: str | None, summary: str | None, text: str | None):
        """(word features, dense features, rule contributions, entities) of the headline unit."""
        summary = head_summary(summary, text, self.lead_sentences)
        raw, contributions, entities, _ = self.rules.raw(title, summary, text, score_text=False)
        dense = dense_features(raw, {e.kind for e in entities}, LABELS)
        return word_features(title, summary), dense, contributions, entities

    def classify(self, title: str | None, summary: str | None, text: str | None) -> Classification:
        model = self.model
        n = len(LABELS)
        words, dense, contributions, entities = self.head_features(title, summary, text)
        head_p = model.head.probability(model.head.z(words, dense))
        body_p = [0.0] * n
        body_at: list[tuple[int, int] | None] = [None] * n
        tokens: list[str] = []
        if text and not all(p >= self.thresholds[label] for p, label in zip(head_p, LABELS, strict=True)):
            tokens = tokens_of(text)
            if tokens:
                p, starts, ends = model.passage.window_probabilities(tokens, self.passage_words)
                span = min(self.body_span, len(p))
                for _ in range(1, span):  # a passage: `span` neighbouring windows that all speak of the label
                    p = np.minimum(p[:-1], p[1:])
                ends = ends[span - 1:]
                best = p.argmax(axis=0)
                for i in range(n):
                    body_p[i] = float(p[best[i], i])
                    body_at[i] = (int(starts[best[i]]), int(ends[best[i]]))
        labels, scores, applied = [], {}, []
        for i, label in enumerate(LABELS):
            by_head = head_p[i] >= self.thresholds[label]
            by_body = body_p[i] >= self.body_thresholds[label]
            scores[label] = round(max(head_p[i], body_p[i]), 4)
            if by_head or by_body:
                labels.append(label)
                applied.append((i, label, body_at[i] if by_body and not by_head else None))
        evidence = (
            self._evidence(applied, title, summary, text, tokens, words, contributions) if applied else {}
        )
        return Classification(sorted(labels), scores, evidence, entities, self.version)

    def contributions(self, title: str | None, summary: str | None, text: str | None, label: str) -> list:
        """(contribution to the headline score, feature) for ``label``, largest first: what an error report
        names."""
        i = LABELS.index(label)
        words, dense, _, _ = self.head_features(title, summary, text)
        table = self.model.words
        known = [f for f in words if f in table]
        out = [(table[f][i] / len(known) ** 0.5, f) for f in known]
        out += [(self.model.head.dense[name][i] * value, name) for name, value in dense.items() if value]
        return sorted(out, key=lambda t: (-t[0], t[1]))

    @staticmethod
    def _strongest(table: dict[str, float], known: list[str], tokens: list[str], stems: list[str],
                   first: dict[str, str]) -> list[str]:
        """The three features with the largest positive weights in ``table``, in the words of the text
        (``known`` sorted by name, so that ties never depend on set order; ``first``: stem -> first word
        form)."""
        ranked = [f for f in sorted(known, key=table.__getitem__, reverse=True)[:3] if table[f] > 0]
        out = []
        for f in ranked:
            if " " not in f:
                out.append(first.get(f, f))
                continue
            a, b = f.split(" ")
            pairs = (tokens[k] + " " + tokens[k + 1] for k in range(len(stems) - 1)
                     if stems[k] == a and stems[k + 1] == b)
            out.append(next(pairs, f))
        return out

    def _evidence(self, applied, title, summary, text, tokens, words, contributions) -> dict[str, list[str]]:
        """Per applied label: the taxonomy phrases that weighed most, the headline words with the largest
        weights, and, when the body alone decided, the strongest words of the deciding passage and its
        place."""
        body_tokens = tokens or tokens_of(text)
        head_tokens = tokens_of(title) + tokens_of(strip_boilerplate(summary)) + body_tokens[:80]
        head_stems = stems_of(None, head_tokens)
        known = sorted(self.model.head.vocabulary.intersection(words))
        first = dict(zip(reversed(head_stems), reversed(head_tokens), strict=True))
        evidence = {}
        for i, label, body in applied:
            lines: dict[str, None] = {}
            ranked = sorted((c for c in contributions[label] if c[0] > 0), key=lambda c: (-c[0], c[1], c[2]))
            for _, name, surface in ranked:
                lines[f'{name}: "{surface}"'] = None
                if len(lines) >= MAX_EVIDENCE - 2:
                    break
            if body is None:  # the headline decided: its strongest words
                strongest = self._strongest(self.model.head.tables[i], known, head_tokens, head_stems, first)
                if strongest:
                    lines["headline words: " + ", ".join(f'"{f}"' for f in strongest)] = None
            else:  # a passage of the body decided: its strongest words and where it is
                start, end = body
                window, stems = tokens[start:end], stems_of(None, tokens[start:end])
                passage = self.model.passage
                passage_known = sorted(passage.vocabulary.intersection(stems))
                passage_first = dict(zip(reversed(stems), reversed(window), strict=True))
                strongest = self._strongest(passage.tables[i], passage_known, window, stems, passage_first)
                lines[f"body, words {start + 1}-{end}: " + ", ".join(f'"{f}"' for f in strongest)] = None
            evidence[label] = list(lines)[:MAX_EVIDENCE]
        return evidence


@lru_cache(maxsize=1)
def get_classifier() -> Classifier:
    return Classifier()


def classifier_version() -> str:
    """The version of this process's classifier (a worker's answer is compared with the caller's)."""
    return get_classifier().version


def classify_rows(rows: list[tuple]) -> list[tuple[int, Classification]]:
    """(article_id, Classification) for (article_id, title, summary, text) rows: the labelling workers'
    task."""
    classifier = get_classifier()
    return [
        (article_id, classifier.classify(title, summary, text)) for article_id, title, summary, text in rows
    ]

