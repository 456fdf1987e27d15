"""The taxonomy scorer: weighted phrase rules from ``config/taxonomy.yml`` (docs/LABELS.md).

Its raw per-label scores are features of the learned classifier (:mod:`.model`), its matched phrases are part
of the evidence, and its entity tagger names the jurisdictions, regulators and assets. On its own
(``classify``) it is the rule baseline that the learned model is measured against.
Every phrase of every label goes into one phrase matcher (plus one for case-sensitive acronyms) working on
word tokens, so classifying an article costs a few C-level passes per field and a loop over the matched words
only.

    raw(label)   = sum over fields of field_weight * sum over distinct matched phrases of
                   weight * min(count, max_count) ** count_exponent
                 + sum over actor/action rules of the label that fire of weight * unit_weight
    raw(label)  *= factor of every damper of the label whose cue is in the title and whose exception is absent
    score(label) = 1 - exp(-max(raw, 0) / scale)
    label applies when score >= threshold(label)

Structure (the ``structure`` section of the taxonomy) reads the title and the lead of the summary (its first
``summary_lead_sentences`` sentences) as two short units, the way a reader decides what a story is about:

* an **actor/action rule** fires when an actor of the right kind (a regulator or court; a bank, payment
  network or government; a miner) and an action of the right kind (sues, bans, approves; buys, accepts,
  integrates; mines, adds hashrate) occur in the same unit, and adds its weight once, at the weight of the
  best unit (title 1.0, lead at the summary's field weight). Its evidence names both words;
* a **damper** scales a label down when its cue is in the title (a price-move headline, a crypto-native firm
  as the subject of its own product news) and none of its exceptions (an outside institution, a firing rule)
  is present in the title or the lead.

The summary is split into its lead (the first ``summary_lead_sentences`` sentences, at the summary weight) and
its tail (at ``summary_tail_weight``): long feed summaries end in lists of related headlines that are not the
story.

Only the first ``body_max_words`` words of the body are read (the lede carries the topic; the rest of a long
article adds cost, not signal), and feed boilerplate ("Continue reading ...", "The post ... appeared first on
...") is cut from the summary, so that the title repeated inside it is not counted twice.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ..config import PROJECT_ROOT, read_yaml
from .entities import Entity, FieldText, PhraseMatcher, analyse, canonical_hash, canonical_phrase, get_tagger

LABELS = ("regulation", "adoption", "mining")
FIELDS = ("title", "summary", "text")
DEFAULT_TAXONOMY_FILE = PROJECT_ROOT / "config" / "taxonomy.yml"
MAX_EVIDENCE = 6
# per label: (value, field, phrase) of each piece of evidence
Contributions = dict[str, list[tuple[float, str, str]]]
_SENTENCE_END = re.compile(r"(?<=[.!?\u2026])[\"'\u201d\u2019)]?\s+(?=[\"'\u201c\u2018(]?[A-Z0-9$])")
# feed boilerplate that repeats the title: "... Continue reading <title>",
# "The post <title> appeared first on <site>"
_BOILERPLATE = re.compile(r"\s*(?:Continue reading\b|The post\b.{0,400}?\bappeared first on\b).*$", re.S)


def strip_boilerplate(summary: str | None) -> str | None:
    """A summary without the feed boilerplate that repeats the title."""
    if not summary or ("Continue reading" not in summary and "appeared first on" not in summary):
        return summary
    return _BOILERPLATE.sub("", summary)


def lede(text: str | None, max_words: int) -> str | None:
    """The first ``max_words`` words of ``text`` (all of it when ``max_words`` is 0 or the text is
    shorter)."""
    if not text or max_words <= 0 or len(text) < max_words * 4:
        return text
    words = text.split(None, max_words)
    if len(words) <= max_words:
        return text
    return " ".join(words[:max_words])


def split_sentences(text: str | None, n: int) -> tuple[str, str]:
    """(the first ``n`` sentences of ``text``, the rest); ``n`` <= 0 keeps everything in the first part."""
    if not text or n <= 0:
        return text or "", ""
    pos = 0
    for _ in range(n):
        m = _SENTENCE_END.search(text, pos)
        if not m:
            return text, ""
        pos = m.end()
    return text[:pos].rstrip(), text[pos:]


def _is_cased(phrase: str) -> bool:
    return phrase != phrase.lower()


@dataclass(frozen=True)
class Rule:
    """An actor/action rule: both an actor and an action in the same unit (title or lead of the summary)."""

    label: str
    name: str
    weight: float


@dataclass(frozen=True)
class Damper:
    """A factor on a label when a cue is in the title and no exception is in the title or lead."""

    label: str
    name: str
    factor: float
    unless_rules: tuple[str, ...]


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


CueKey = tuple[str] | tuple[str, int]  # ("actor" | "action" | "cue" | "unless", index), or ("exclude",)


class _CuePhrases:
    """The phrases of the actor/action rules and dampers in matching form, each with the keys it stands for
    (in the order added: a phrase's keys are read in that order)."""

    def __init__(self, groups: dict[str, list[str]], entity_names: dict[str, list[str]]):
        self.groups = groups
        self.entity_names = entity_names
        self.lower: dict[str, list[CueKey]] = defaultdict(list)
        self.cased: dict[str, list[CueKey]] = defaultdict(list)

    def add(self, key: CueKey, phrases: Iterable[object]) -> None:
        """``phrases`` under ``key``; "@name" stands for a group of the taxonomy, else for an entity kind."""
        for phrase in phrases:
            item = str(phrase)
            if item.startswith("@"):
                names = self.groups.get(item[1:])
                if names is None:
                    names = self.entity_names.get(item[1:], [])
                self.add(key, names)
            elif _is_cased(item):
                self.cased[canonical_phrase(item, lower=False)].append(key)
            else:
                self.lower[canonical_phrase(item)].append(key)


class RuleScorer:
    def __init__(self, taxonomy_path: str | Path | None = None):
        self.taxonomy_path = Path(taxonomy_path) if taxonomy_path else DEFAULT_TAXONOMY_FILE
        data = read_yaml(self.taxonomy_path)
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
        self._load_structure(data.get("structure") or {})

    def _load_structure(self, spec: dict) -> None:
        """Actor/action rules and dampers, matched by one phrase matcher over the title and the lead."""
        self.summary_lead_sentences = int(spec.get("summary_lead_sentences", 0))
        self.summary_tail_weight = float(spec.get("summary_tail_weight", self.field_weights["summary"]))
        groups: dict[str, list[str]] = {}
        for name, phrases in (spec.get("groups") or {}).items():
            groups[name] = [str(p) for p in phrases]
        cues = _CuePhrases(groups, self._entity_names())
        for phrase in self.tagger.lower_map:  # excluded names ("latin america") are consumed, never counted
            if self.tagger.lower_map[phrase][0] == "exclude":
                cues.lower[phrase].append(("exclude",))
        self.rules: list[Rule] = []
        for r in spec.get("rules") or []:
            i = len(self.rules)
            self.rules.append(Rule(r["label"], r["name"], float(r["weight"])))
            cues.add(("actor", i), r["actors"])
            cues.add(("action", i), r["actions"])
        self.dampers: list[Damper] = []
        for d in spec.get("dampers") or []:
            i = len(self.dampers)
            unless_rules = tuple(d.get("unless_rules") or ())
            self.dampers.append(Damper(d["label"], d["name"], float(d["factor"]), unless_rules))
            cues.add(("cue", i), d["cues"])
            cues.add(("unless", i), d.get("unless") or [])
        self.cue_lower_keys = {p: tuple(dict.fromkeys(v)) for p, v in cues.lower.items()}
        self.cue_cased_keys = {p: tuple(dict.fromkeys(v)) for p, v in cues.cased.items()}
        self.cue_lower = PhraseMatcher(self.cue_lower_keys)
        self.cue_cased = PhraseMatcher(self.cue_cased_keys, lower=False)

    def _entity_names(self) -> dict[str, list[str]]:
        """Kind -> names: "@jurisdiction" / "@regulator" stand for every name of that kind in
        config/entities.yml (case-sensitive names only when plain: not tickers, nor names that count only in
        context)."""
        entity_names: dict[str, list[str]] = defaultdict(list)
        for phrase, (kind, _ident, _rule) in self.tagger.lower_map.items():
            entity_names[kind].append(phrase)
        for phrase, (kind, _ident, rule) in self.tagger.cased_map.items():
            if rule == "plain":
                entity_names[kind].append(phrase)
        return entity_names

    def _cues(self, field: FieldText) -> dict[CueKey, str]:
        """(role, index) -> surface of a phrase found in an analysed unit (of the phrases found for a role,
        the first in sorted order, so that the result never depends on set iteration order, which varies
        between processes)."""
        hits: dict[CueKey, str] = {}
        if not field.original:
            return hits
        for p, (_n, surface) in sorted(self.cue_lower.count(field).items()):
            for key in self.cue_lower_keys[p]:
                hits.setdefault(key, surface)
        for p, (_n, surface) in sorted(self.cue_cased.count(field).items()):
            for key in self.cue_cased_keys[p]:
                hits.setdefault(key, surface)
        return hits

    def _structure(self, title_field: FieldText, lead_field: FieldText, raw: dict[str, float],
                   contributions: Contributions) -> None:
        units = (
            ("title", self.field_weights["title"], self._cues(title_field)),
            ("summary", self.field_weights["summary"], self._cues(lead_field)),
        )
        fired = set()
        for i, rule in enumerate(self.rules):
            for unit, weight, hits in units:
                actor, action = hits.get(("actor", i)), hits.get(("action", i))
                if actor and action and actor != action:
                    value = rule.weight * weight
                    raw[rule.label] += value
                    contributions[rule.label].append((value, unit, f'{actor}" + "{action}'))
                    fired.add(rule.name)
                    break
        title_hits, lead_hits = units[0][2], units[1][2]
        for i, damper in enumerate(self.dampers):
            cue = title_hits.get(("cue", i))
            if not cue:
                continue
            if ("unless", i) in title_hits or ("unless", i) in lead_hits:
                continue
            if fired.intersection(damper.unless_rules):
                continue
            if raw[damper.label] > 0:
                raw[damper.label] *= damper.factor

    def raw(self, title: str | None, summary: str | None, text: str | None,
            score_text: bool = True) -> tuple[dict[str, float], Contributions, list[Entity], list[FieldText]]:
        """(raw score per label, contributions per label as (value, field, phrase), entities, analysed
        fields).

        The raw scores are taken before squashing and include the no-crypto-context factor; the learned model
        reads them as features. With ``score_text`` false the body's lede is read for entities only."""
        raw = dict.fromkeys(LABELS, 0.0)
        contributions: Contributions = {label: [] for label in LABELS}
        analysed: list[FieldText] = []
        summary = strip_boilerplate(summary)
        lead, tail = split_sentences(summary, self.summary_lead_sentences)
        fields = (
            ("title", title, self.field_weights["title"]),
            ("summary", lead, self.field_weights["summary"]),
            ("summary", tail, self.summary_tail_weight),
            ("text", lede(text, self.body_max_words), self.field_weights["text"]),
        )
        for name, original, fw in fields:
            field = analyse(original)
            analysed.append(field)
            if not field.original or (name == "text" and not score_text):
                continue
            # sorted: the sum is added up in the same order in every process (set order varies with the hash
            # seed; a last-digit difference could move a score across a threshold or a weight's rounding)
            lower = sorted(self.lower_matcher.count(field).items())
            cased = sorted(self.cased_matcher.count(field).items())
            matches = [(self.lower_weights[p], hit) for p, hit in lower]
            matches += [(self.cased_weights[p], hit) for p, hit in cased]
            for weights, (count, surface) in matches:
                boost = min(count, self.max_count) ** self.count_exponent
                for label, weight in weights:
                    value = fw * weight * boost
                    raw[label] += value
                    contributions[label].append((value, name, surface))
        self._structure(analysed[0], analysed[1], raw, contributions)
        entities, crypto_context = self.tagger.scan(analysed)
        if not crypto_context:
            raw = {label: value * self.no_context_factor for label, value in raw.items()}
        return raw, contributions, entities, analysed

    def classify(self, title: str | None, summary: str | None, text: str | None) -> Classification:
        raw, contributions, entities, _ = self.raw(title, summary, text)
        scores, labels, evidence = {}, [], {}
        for label in LABELS:
            score = 1.0 - math.exp(-max(raw[label], 0.0) / self.scale)
            scores[label] = round(score, 4)
            if score >= self.thresholds[label]:
                labels.append(label)
            positive = sorted(
                (c for c in contributions[label] if c[0] > 0), key=lambda c: (-c[0], c[1], c[2])
            )
            if positive:
                lines: dict[str, None] = {}
                for _, name, surface in positive:
                    lines[f'{name}: "{surface}"'] = None
                    if len(lines) == MAX_EVIDENCE:
                        break
                evidence[label] = list(lines)
        return Classification(sorted(labels), scores, evidence, entities, self.version)
