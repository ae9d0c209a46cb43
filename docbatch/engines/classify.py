"""Classify engine, FAST mode: natural-language rules scored against a document's text.

No model and no network: the document is converted like ``parse`` does, then each rule
is scored by weighted term matching, BM25-style:

* terms are lowercased words with stopwords removed and light suffix stemming, so
  "invoices", "invoiced" and "invoicing" meet; a stem that is a prefix (5+ letters) of
  another counts for ``PREFIX_CREDIT`` of a match ("education" / "educational");
* a rule's ``type`` name weighs ``TYPE_WEIGHT`` description words (split among its
  words), words every kind of document uses ("number", "date") weigh less, and a term
  shared by several rules weighs less (inverse rule frequency): it cannot tell them apart;
* repeated occurrences saturate as in BM25, more slowly in documents longer than
  ``TYPICAL_DOCUMENT_WORDS``, and only the first ``MAX_WORDS`` words are read;
* a rule's score is the weighted share of its terms found (its coverage, 0 to 1).

Confidence multiplies the rule's share of all scores (how clearly it beats the others)
by a logistic of its coverage (whether there is enough evidence at all), so a document
that matches one stray word of one rule is not called that type with confidence 1. The
best type below the confidence threshold (``confidence_threshold`` in the config, else
``DEFAULT_CONFIDENCE_THRESHOLD``) becomes ``"unknown"``, and the type that came closest
is reported as the runner-up.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from docbatch.engines.base import EngineRequest, EngineResult
from docbatch.engines.parse import PageSelection, convert_document, parse_page_spec
from docbatch.errors import ConfigError

UNKNOWN = "unknown"
DEFAULT_CONFIDENCE_THRESHOLD = 0.2
"""Below this confidence the answer is ``unknown``; measured on realistic documents, a
correct type scores 0.4 to 0.9 and a document matching no rule stays under 0.15."""

TYPE_WEIGHT = 3.0
"""Weight of a rule's type name, shared among its words, against 1 per description word."""
GENERIC_WEIGHT = 0.5
"""Weight of description words that turn up in documents of every kind."""
PREFIX_CREDIT = 0.7
K1 = 1.2
B = 0.75
TYPICAL_DOCUMENT_WORDS = 500
"""BM25 length normalisation: a long book mentions every rule's words somewhere, so
occurrences in a document longer than this count for less."""
MAX_WORDS = 5000
"""Only the opening words are scored (about ten pages): the kind of a document shows in
its first pages, and a whole book would match every rule a little."""
EVIDENCE_MIDPOINT = 0.12
"""Coverage at which the evidence factor is one half."""
EVIDENCE_SLOPE = 0.04
MIN_PREFIX_LENGTH = 5

_WORD = re.compile(r"[^\W\d_]{2,}")
_MARKUP = re.compile(r"<!--.*?-->|\]\([^)]*\)|https?://\S+", re.DOTALL)

_STOPWORD_TEXT = """
    a about above after again against all also am an and any are as at be because been
    before being below between both but by can could did do does doing down during each
    few for from further had has have having he her here hers herself him himself his how
    i if in into is it its itself just me more most my myself no nor not now of off on
    once only or other our ours ourselves out over own same she should so some such than
    that the their theirs them themselves then there these they this those through to too
    under until up very was we were what when where which while who whom why will with
    would you your yours yourself yourselves per via etc eg ie us may might must shall
    upon within without whose
"""
_STOPWORDS = frozenset(_STOPWORD_TEXT.split())
# Words people put in rule descriptions that say nothing about the document type.
_RULE_FILLER_TEXT = """
    document documents file files contain contains containing include includes including
    typically usually often generally kind type types something anything various usual
    describe describes describing mention mentions mentioning like example examples
    listing listed lists showing shows show given giving
"""
_RULE_FILLER = frozenset(_RULE_FILLER_TEXT.split())
_GENERIC_TEXT = """
    number numbers date dates name names time year years information detail details page
    pages section sections part parts item items person people one two new use used
"""
_GENERIC = frozenset(_GENERIC_TEXT.split())


@dataclass(frozen=True, slots=True)
class Rule:
    """One classification rule: the type to assign and what such documents look like."""

    type: str
    description: str


@dataclass(frozen=True, slots=True)
class Candidate:
    """A type with its coverage score, confidence and the rule words found."""

    type: str
    score: float
    confidence: float
    matched: tuple[tuple[str, int], ...] = field(default=())


@dataclass(frozen=True, slots=True)
class Classification:
    """The outcome: chosen type (or ``unknown``), its confidence and the runner-up."""

    type: str
    confidence: float
    runner_up: Candidate | None
    candidates: tuple[Candidate, ...]
    reasoning: str

    def to_json(self) -> dict[str, Any]:
        """The JSON document stored as the classify output."""
        return {
            "type": self.type,
            "confidence": self.confidence,
            "runner_up": _candidate_json(self.runner_up),
            "scores": {c.type: c.score for c in self.candidates},
            "reasoning": self.reasoning,
        }


def classify_document(request: EngineRequest) -> EngineResult:
    """Convert ``request.path`` to text and classify it by the config's rules (FAST)."""
    config = request.config
    rules = rules_from_config(config)
    threshold = _threshold(config.get("confidence_threshold"))
    not_applied: list[str] = []
    mode = str(config.get("mode") or "FAST").upper()
    if mode != "FAST":
        not_applied.append(f"mode={mode}")
    parsing = config.get("parsing_configuration") or {}
    if parsing.get("lang"):
        not_applied.append("parsing_configuration.lang")
    max_pages = parsing.get("max_pages")
    selection = PageSelection(
        target_pages=parse_page_spec(
            parsing.get("target_pages"), "parsing_configuration.target_pages"
        ),
        max_pages=max_pages if isinstance(max_pages, int) and max_pages > 0 else None,
    )
    conversion = convert_document(
        request.path, request.file_name, request.mime_type, pages=selection
    )
    if conversion.pages is None and (selection.target_pages or selection.max_pages):
        not_applied.append("parsing_configuration.pages")

    result = classify_text(conversion.markdown, rules, threshold=threshold)
    metadata: dict[str, Any] = {
        "type": result.type,
        "confidence": result.confidence,
        "runner_up": _candidate_json(result.runner_up),
        "mode": "FAST",
        "source_format": conversion.source_format,
        "not_applied": not_applied,
    }
    return EngineResult(
        content=json.dumps(result.to_json(), ensure_ascii=False),
        content_type="application/json",
        extension="json",
        metadata=metadata,
    )


def rules_from_config(config: Mapping[str, Any]) -> list[Rule]:
    """The rules of a classify config; ``ConfigError`` when there are none usable."""
    raw_rules = config.get("rules")
    if not isinstance(raw_rules, list) or not raw_rules:
        raise ConfigError("rules: at least one rule is required", field="rules")
    rules = []
    for position, raw in enumerate(raw_rules):
        if not isinstance(raw, Mapping) or not str(raw.get("type") or "").strip():
            raise ConfigError(f"rules.{position}.type: a non-empty type is required", field="rules")
        rules.append(
            Rule(type=str(raw["type"]).strip(), description=str(raw.get("description") or ""))
        )
    return rules


def classify_text(
    text: str, rules: Sequence[Rule], *, threshold: float = DEFAULT_CONFIDENCE_THRESHOLD
) -> Classification:
    """Score every rule against ``text`` and pick the best type, or ``unknown``."""
    words = _words(_MARKUP.sub(" ", text))[:MAX_WORDS]
    counts = Counter(_stem(word) for word in words)
    # Short documents keep plain BM25 saturation; only long ones are damped.
    saturation = K1 * max(1.0, 1 - B + B * len(words) / TYPICAL_DOCUMENT_WORDS)
    rule_terms = [_rule_terms(rule) for rule in rules]
    rule_frequency = Counter(term for terms in rule_terms for term in terms)
    total_rules = len(rules)

    scored: dict[str, tuple[float, tuple[tuple[str, int], ...]]] = {}
    for rule, terms in zip(rules, rule_terms, strict=True):
        possible = found = 0.0
        matched: list[tuple[str, int]] = []
        for term, (weight, word) in terms.items():
            rarity = math.log(
                1 + (total_rules - rule_frequency[term] + 0.5) / (rule_frequency[term] + 0.5)
            )
            tf = _term_frequency(term, counts)
            possible += weight * rarity
            if tf > 0:
                found += weight * rarity * tf / (tf + saturation)
                matched.append((word, round(tf)))
        score = found / possible if possible else 0.0
        # Several rules may name the same type: the best-matching one speaks for it.
        if rule.type not in scored or score > scored[rule.type][0]:
            matched.sort(key=lambda item: -item[1])
            scored[rule.type] = (score, tuple(matched))

    total = sum(score for score, _ in scored.values())
    candidates = sorted(
        (
            Candidate(
                type=type_,
                score=round(score, 4),
                confidence=round(_confidence(score, total), 4),
                matched=matched,
            )
            for type_, (score, matched) in scored.items()
        ),
        key=lambda c: (-c.confidence, -c.score),
    )
    best = candidates[0]
    if best.confidence >= threshold and best.score > 0:
        chosen, runner_up = best.type, (candidates[1] if len(candidates) > 1 else None)
    else:
        chosen, runner_up = UNKNOWN, best
    return Classification(
        type=chosen,
        confidence=best.confidence,
        runner_up=runner_up,
        candidates=tuple(candidates),
        reasoning=_reasoning(chosen, best, candidates, threshold),
    )


# ------------------------------------------------------------------ scoring


def _confidence(score: float, total: float) -> float:
    if score <= 0 or total <= 0:
        return 0.0
    evidence = 1 / (1 + math.exp(-(score - EVIDENCE_MIDPOINT) / EVIDENCE_SLOPE))
    return score / total * evidence


def _term_frequency(term: str, counts: Counter[str]) -> float:
    tf = float(counts.get(term, 0))
    if len(term) >= MIN_PREFIX_LENGTH:
        for word, count in counts.items():
            if word != term and (
                word.startswith(term) or (len(word) >= MIN_PREFIX_LENGTH and term.startswith(word))
            ):
                tf += PREFIX_CREDIT * count
    return tf


def _rule_terms(rule: Rule) -> dict[str, tuple[float, str]]:
    """Stem → (weight, a rule word that produced it) for one rule."""
    terms: dict[str, tuple[float, str]] = {}
    for word in _words(rule.description):
        if word in _RULE_FILLER:
            continue
        weight = GENERIC_WEIGHT if word in _GENERIC else 1.0
        stem = _stem(word)
        if weight > terms.get(stem, (0.0, ""))[0]:
            terms[stem] = (weight, word)
    type_words = [w for w in _words(rule.type) if w not in _RULE_FILLER]
    for word in type_words:
        # The type name outranks the description even when it repeats a description word.
        terms[_stem(word)] = (max(TYPE_WEIGHT / len(type_words), 1.0), word)
    return terms


def _words(text: str) -> list[str]:
    return [w for w in _WORD.findall(text.lower()) if w not in _STOPWORDS]


def _stem(word: str) -> str:
    """A light English stemmer: plural and verb endings, then a final ``e``."""
    if len(word) <= 3:
        return word
    if word.endswith("ies") and len(word) > 4:
        word = word[:-3] + "y"
    elif word.endswith(("sses", "xes", "ches", "shes", "zes")):
        word = word[:-2]
    elif word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    if word.endswith("ing") and len(word) > 5:
        word = word[:-3]
    elif word.endswith("ed") and len(word) > 4:
        word = word[:-2]
    if word.endswith("e") and len(word) > 3:
        word = word[:-1]
    return word


def _reasoning(
    chosen: str, best: Candidate, candidates: Sequence[Candidate], threshold: float
) -> str:
    def found(candidate: Candidate) -> str:
        if not candidate.matched:
            return "no rule terms found"
        terms = ", ".join(f"{word} x{count}" for word, count in candidate.matched[:6])
        return f"matched {terms}"

    if chosen == UNKNOWN:
        text = (
            f"no rule reached confidence {threshold:g}; closest {best.type} "
            f"({best.confidence:.2f}): {found(best)}"
        )
    else:
        text = f"{best.type}: {found(best)}"
        if len(candidates) > 1:
            second = candidates[1]
            text += f"; runner-up {second.type} ({second.confidence:.2f}): {found(second)}"
    return text if len(text) <= 300 else text[:297] + "..."


def _candidate_json(candidate: Candidate | None) -> dict[str, Any] | None:
    if candidate is None:
        return None
    return {"type": candidate.type, "confidence": candidate.confidence}


def _threshold(value: object) -> float:
    if value is None:
        return DEFAULT_CONFIDENCE_THRESHOLD
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise ConfigError(
            "confidence_threshold: must be a number between 0 and 1",
            field="confidence_threshold",
        )
    return float(value)
