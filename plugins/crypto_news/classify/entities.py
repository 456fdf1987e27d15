"""Entity tagger: jurisdictions, regulators and crypto-assets named in an article.

The vocabulary and the stable ids live in ``config/entities.yml`` (id scheme: docs/LABELS.md). Names are
matched case-insensitively, acronyms and tickers case-sensitively, on word tokens (see
:class:`PhraseMatcher`); the tokenising helpers are shared with the classifier.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, cast

from ..config import PROJECT_ROOT, read_yaml

DEFAULT_ENTITIES_FILE = PROJECT_ROOT / "config" / "entities.yml"
KINDS = ("jurisdiction", "regulator", "asset")

# ---------------------------------------------------------------------------------------------------------
# Text helpers shared with the classifier
#
# Matching works on word tokens, not on a regex scan of the whole text, so that an 800-word article costs a
# few C-level passes (a regex substitution, split, Counter, set intersections) plus a Python loop over the few
# words that start a known phrase. Punctuation becomes a space, except "." inside a token (U.S.), "/" (EH/s)
# and "$" ($BTC); a "." that ends a sentence is dropped.

_PUNCTUATION = "\t\n\r\x0b\x0c!\"#%&'()*+,-:;<=>?@[\\]^_`{|}~"
_PUNCTUATION += "\u00a0\u00ab\u00bb\u00ad\u00b7\u2010\u2011\u2012\u2013\u2014\u2015"
_PUNCTUATION += "\u2018\u2019\u201a\u201b\u201c\u201d\u201e\u2026\u2022\u2032\u2212\u00bf\u00a1\u00ae\u2122"
_PUNCTUATION_RE = re.compile("[" + re.escape(_PUNCTUATION) + "]")  # 4x faster than str.translate on real text
_DROP_UPPER = str.maketrans(dict.fromkeys("ABCDEFGHIJKLMNOPQRSTUVWXYZ"))
_DROP_LOWER = str.maketrans(dict.fromkeys("abcdefghijklmnopqrstuvwxyz"))
_SENTENCE_DOT = re.compile(r"\.(?=\s|$)")


def clean(text: str | None) -> str:
    """Punctuation as spaces (case kept)."""
    if not text:
        return ""
    return _SENTENCE_DOT.sub(" ", _PUNCTUATION_RE.sub(" ", text))


def normalise(text: str | None) -> str:
    """Cleaned, lower-case text with single spaces: the form in which phrases are written and matched."""
    return " ".join(clean(text).lower().split())


def canonical_phrase(phrase: str, lower: bool = True) -> str:
    """A configured phrase in matching form; a trailing "*" (any word ending) is kept."""
    wildcard = phrase.endswith("*")
    body = clean(phrase.rstrip("*"))
    body = " ".join((body.lower() if lower else body).split())
    return body + ("*" if wildcard else "")


# [count, surface form of the first match]: a list, so that counts can be added to and taken from in place
Hit = list[Any]
# (phrase, " phrase " to count or a regex for a phrase ending in "*", shorter phrases inside, other words)
MultiPhrase = tuple[str, re.Pattern[str] | str, list[str], tuple[str, ...]]


@dataclass
class FieldText:
    """One field of an article, tokenised once for every matcher."""

    original: str
    words: Counter  # lower-case token -> count
    joined: str  # " tok tok ... " in lower case, single spaces
    cased_text: str  # " text " as written, punctuation as spaces
    # the distinct tokens: set operations with it run over the smaller side
    vocabulary: frozenset[str] = frozenset()


def analyse(text: str | None) -> FieldText:
    if not text:
        return FieldText("", Counter(), "  ", "  ")
    original = text
    cleaned = clean(original)
    tokens = cleaned.lower().split()
    words = Counter(tokens)
    return FieldText(original, words, " " + " ".join(tokens) + " ", " " + cleaned + " ", frozenset(words))


class PhraseMatcher:
    """Counts configured phrases in a :class:`FieldText`, longest phrase first.

    Phrases are given in matching form (:func:`canonical_phrase`). A phrase of several words is counted in the
    joined text when all its words occur; its count is then taken away from the shorter phrases inside it,
    so "liquidity mining" is not also counted as "mining". Single words ending in "*" are resolved once per
    distinct token and cached.
    """

    CACHE_LIMIT = 200_000

    def __init__(self, phrases: Iterable[str], lower: bool = True):
        self.lower = lower
        phrases = set(phrases)
        if not lower:  # case-sensitive phrases are single tokens, found through their lower-case form
            self.cased_forms: dict[str, list[str]] = {}
            for p in sorted(phrases):
                self.cased_forms.setdefault(p.lower(), []).append(p)
            return
        self.single = {p for p in phrases if " " not in p and not p.endswith("*")}
        self.prefixes = {p[:-1] for p in phrases if " " not in p and p.endswith("*")}
        self.min_prefix = min((len(p) for p in self.prefixes), default=0)
        self.max_prefix = max((len(p) for p in self.prefixes), default=0)
        self.multi: dict[str, list[MultiPhrase]] = {}
        for p in sorted(phrases):
            if " " not in p:
                continue
            wildcard = p.endswith("*")
            words = p.rstrip("*").split(" ")
            # exact phrases are counted with str.count, phrases ending in "*" with a regex
            rx = re.compile(" " + re.escape(" ".join(words)) + r"[^ ]*(?= )") if wildcard else " " + p + " "
            literal = words[:-1] if wildcard else words
            inner = self._inner(literal, len(words), phrases)
            # looked for only when its longest complete word occurs, then only when all its words occur
            key = max(literal, key=len)
            others = tuple(x for x in literal if x != key)
            self.multi.setdefault(key, []).append((p, rx, inner, others))
        self.first_words = set(self.multi)
        self.cache: dict[str, str | None] = {}
        self.wild_tokens: set[str] = set()

    def _inner(self, literal: list[str], n_words: int, phrases: set[str]) -> list[str]:
        """The configured phrases inside a phrase of ``n_words`` words (runs of its ``literal`` words, the
        phrase itself excepted): each match of the longer phrase is taken from their counts."""
        inner = []
        for i in range(len(literal)):
            for j in range(i + 1, len(literal) + 1):
                if (i, j) == (0, n_words):
                    continue
                sub = " ".join(literal[i:j])
                name = sub if sub in phrases else self._wildcard(sub)
                if name:
                    inner.append(name)
        return inner

    def _wildcard(self, token: str) -> str | None:
        if token in self.single or " " in token:
            return None
        for n in range(min(len(token), self.max_prefix), self.min_prefix - 1, -1):
            if token[:n] in self.prefixes:
                return token[:n] + "*"
        return None

    def count(self, field: FieldText) -> dict[str, Hit]:
        """phrase -> [count, surface form of the first match]."""
        if not self.lower:
            return self._count_cased(field)
        words, vocabulary = field.words, field.vocabulary
        found: dict[str, Hit] = {w: [words[w], w] for w in self.single & vocabulary}
        if self.prefixes:
            self._count_wildcards(field, found)
        nested = self._count_multi(field, found)
        for sub, n in nested:  # after all counts, so that the result does not depend on the order of the loop
            if sub in found:
                found[sub][0] -= n
        return {p: v for p, v in found.items() if v[0] > 0}

    def _count_cased(self, field: FieldText) -> dict[str, Hit]:
        found: dict[str, Hit] = {}
        for low in self.cased_forms.keys() & field.vocabulary:
            for p in self.cased_forms[low]:
                n = field.cased_text.count(" " + p + " ")
                if n:
                    found[p] = [n, p]
        return found

    def _count_wildcards(self, field: FieldText, found: dict[str, Hit]) -> None:
        """Adds the phrases ending in "*" to ``found``; a token is resolved once, then read from the cache."""
        words, vocabulary = field.words, field.vocabulary
        cache = self.cache
        new = vocabulary.difference(cache)  # in C, over the field's words only (the cache is a dict)
        if new:
            if len(self.cache) > self.CACHE_LIMIT:
                self.cache.clear()
                self.wild_tokens.clear()
            for w in new:
                hit = self._wildcard(w)
                self.cache[w] = hit
                if hit:
                    self.wild_tokens.add(w)
        for w in vocabulary & self.wild_tokens:
            p = cast(str, self.cache[w])  # a wild token's cache entry is its phrase
            entry = found.get(p)
            if entry is None:
                found[p] = [words[w], w]
            else:  # several words share the prefix: counts add up, the surface form is the first in order
                entry[0] += words[w]
                entry[1] = min(entry[1], w)

    def _count_multi(self, field: FieldText, found: dict[str, Hit]) -> list[tuple[str, int]]:
        """Adds the phrases of several words to ``found``; returns (shorter phrase inside, count to take
        away) for each."""
        words, joined = field.words, field.joined
        nested: list[tuple[str, int]] = []
        for w in self.first_words & field.vocabulary:
            for p, rx, inner, others in self.multi[w]:
                if others and not all(x in words for x in others):
                    continue
                if isinstance(rx, str):
                    n = joined.count(rx)
                    surface = p
                else:
                    hits = rx.findall(joined)
                    n = len(hits)
                    surface = hits[0].strip() if hits else p
                if n:
                    found[p] = [n, surface]
                    nested.extend((sub, n) for sub in inner)
        return nested


def canonical_hash(data) -> str:
    """sha256 of the canonical JSON form of parsed configuration data."""
    blob = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


# ---------------------------------------------------------------------------------------------------------
# Entities


@dataclass(frozen=True)
class Entity:
    kind: str  # "jurisdiction" | "regulator" | "asset"
    id: str
    name: str
    mentions: int

    def to_dict(self) -> dict:
        return {"kind": self.kind, "id": self.id, "name": self.name, "mentions": self.mentions}


# what a configured name stands for: (kind, id, rule); kind is also "context" or "exclude"
NameEntry = tuple[str, str, str]
# a case-sensitive name that counts only if the rest of the article allows it:
# ((kind, id), rule, count, marked as a ticker, field shouted in capitals)
Pending = tuple[tuple[str, str], str, int, bool, bool]

_CONTEXT: NameEntry = ("context", "", "")
_EXCLUDED: NameEntry = ("exclude", "", "")
_SECTIONS = (("jurisdiction", "jurisdictions"), ("regulator", "regulators"), ("asset", "assets"))


def _check_strings(path: Path, section: str, item: dict) -> None:
    """Ids, names and tickers must be strings: YAML reads a bare NO, ON, YES or OFF as a boolean (Norway's
    "NO" becomes false), so such values have to be quoted in the file."""
    values = [item.get("id"), item.get("name")]
    for key in ("names", "case_names", "context_names", "ambiguous_case_names", "tickers"):
        values += item.get(key, [])
    bad = [v for v in values if not isinstance(v, str)]
    if bad:
        raise ValueError(f"{path}: {section} entry {item.get('name') or item.get('id')!r} has non-text "
                         f"value(s) {bad!r}; quote them (YAML reads bare NO/ON/YES/OFF as booleans)")


def _shouted(text: str) -> bool:
    """Whether ``text`` is mostly in capitals (then an acronym in it is no sign of a ticker)."""
    upper = len(text) - len(text.translate(_DROP_UPPER))
    lower = len(text) - len(text.translate(_DROP_LOWER))
    return upper > 1.5 * lower


class EntityTagger:
    def __init__(self, path: str | Path | None = None):
        self.path = Path(path) if path else DEFAULT_ENTITIES_FILE
        data = read_yaml(self.path)
        self.hash = canonical_hash(data)
        self.version = str(data.get("version", "0"))
        self.names: dict[tuple[str, str], str] = {}  # (kind, id) -> display name
        self.implies: dict[str, str] = {}  # regulator id -> jurisdiction id
        lower: dict[str, NameEntry] = {}  # phrase in matching form -> (kind, id, rule)
        cased: dict[str, NameEntry] = {}  # phrase as written -> (kind, id, rule)

        for phrase in data.get("exclude", []):
            lower[canonical_phrase(phrase)] = _EXCLUDED
        for phrase in data.get("context_words", []):
            lower.setdefault(canonical_phrase(phrase), _CONTEXT)
        for kind, section in _SECTIONS:
            for item in data.get(section, []):
                _check_strings(self.path, section, item)
                self._add_entry(kind, item, lower, cased)
        self.lower_map = lower
        self.cased_map = cased
        self.lower_matcher = PhraseMatcher(lower)
        self.cased_matcher = PhraseMatcher(cased, lower=False)
        self.dollar_lower = {"$" + t.lower(): t for t, v in cased.items() if v[2].startswith("ticker")}

    def _add_entry(self, kind: str, item: dict, lower: dict[str, NameEntry],
                   cased: dict[str, NameEntry]) -> None:
        """One entity of the file: its display name, the jurisdiction it implies, and its names (a
        case-sensitive name or ticker that is also a plain name is matched as the plain name)."""
        ident = item["id"]
        self.names[(kind, ident)] = item["name"]
        if item.get("jurisdiction"):
            self.implies[ident] = item["jurisdiction"]
        names = [canonical_phrase(n) for n in item.get("names", [])]
        for n in names:
            lower[n] = (kind, ident, "plain")
        for n in item.get("case_names", []):
            if canonical_phrase(n) not in names:
                cased[canonical_phrase(n, lower=False)] = (kind, ident, "plain")
        for n in item.get("context_names", []):
            cased[canonical_phrase(n, lower=False)] = (kind, ident, "context")
        for n in item.get("ambiguous_case_names", []):
            cased[canonical_phrase(n, lower=False)] = (kind, ident, "needs_jurisdiction")
        rule = "ticker_ambiguous" if item.get("ambiguous") else "ticker"
        for t in item.get("tickers", []):
            if t.lower() not in names:
                cased[t] = (kind, ident, rule)

    def tag(self, fields: list[FieldText]) -> list[Entity]:
        """Entities in analysed fields (see :func:`analyse`)."""
        return self.scan(fields)[0]

    def scan(self, fields: list[FieldText]) -> tuple[list[Entity], bool]:
        """(entities, crypto context): the second is true when an asset or a context word is named."""
        counts: Counter[tuple[str, str]] = Counter()
        pending: list[Pending] = []
        context = False
        for field in fields:
            if not field.original:
                continue
            if self._count_names(field, counts):
                context = True
            self._count_cased(field, counts, pending)
        if not context:
            context = any(k[0] == "asset" for k in counts)
        self._count_pending(pending, counts, context)
        # a regulator names its jurisdiction too
        for (kind, ident), n in list(counts.items()):
            if kind == "regulator" and ident in self.implies:
                counts[("jurisdiction", self.implies[ident])] += n
        order = {k: i for i, k in enumerate(KINDS)}
        entities = [
            Entity(kind, ident, self.names.get((kind, ident), ident), n)
            for (kind, ident), n in counts.items()
        ]
        entities.sort(key=lambda e: (order[e.kind], -e.mentions, e.id))
        return entities, context

    def _count_names(self, field: FieldText, counts: Counter[tuple[str, str]]) -> bool:
        """Counts the case-insensitive names of ``field``; true when a crypto context word is among them."""
        context = False
        for phrase, (n, _) in self.lower_matcher.count(field).items():
            kind, ident, _rule = self.lower_map[phrase]
            if kind == "context":
                context = True
            elif kind != "exclude":
                counts[(kind, ident)] += n
        return context

    def _count_cased(self, field: FieldText, counts: Counter[tuple[str, str]],
                     pending: list[Pending]) -> None:
        """Counts the case-sensitive names and tickers of ``field`` ($TICKER included); those that count only
        if the whole article allows it go to ``pending``."""
        found = self.cased_matcher.count(field)
        for token in self.dollar_lower.keys() & field.words.keys():  # $TICKER
            ticker = self.dollar_lower[token]
            n = field.cased_text.count(" $" + ticker + " ")
            if n:
                found.setdefault(ticker, [0, ticker])[0] += n
        shouted = None
        for phrase, (n, _) in found.items():
            kind, ident, rule = self.cased_map[phrase]
            if rule in ("plain", "ticker"):
                counts[(kind, ident)] += n
                continue
            if shouted is None:
                shouted = _shouted(field.original)
            marked = (" $" + phrase + " ") in field.cased_text or ("(" + phrase + ")") in field.original
            pending.append(((kind, ident), rule, n, marked, shouted))

    def _count_pending(self, pending: list[Pending], counts: Counter[tuple[str, str]], context: bool) -> None:
        """Counts the names that waited for the whole article: an ambiguous ticker when marked ($ or
        parentheses) or named in a crypto context outside a shouted field, a context name in a crypto context,
        an ambiguous name when its jurisdiction is named."""
        for key, rule, n, marked, shouted in pending:
            if rule == "ticker_ambiguous":
                ok = marked or (context and not shouted)
            elif rule == "context":
                ok = context
            else:  # needs_jurisdiction
                ok = ("jurisdiction", self.implies.get(key[1], "")) in counts
            if ok:
                counts[key] += n


@lru_cache(maxsize=1)
def get_tagger() -> EntityTagger:
    return EntityTagger()


def extract_entities(title: str | None, summary: str | None, text: str | None) -> list[Entity]:
    """Jurisdictions, regulators and assets named in an article, with mention counts."""
    return get_tagger().tag([analyse(t) for t in (title, summary, text)])
