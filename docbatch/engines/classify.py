"""Classify engine, FAST mode: natural-language rules scored against a document's text.

No model and no network: the document is converted like ``parse`` does, then each rule
is scored by how much of what it describes the document shows.

* **Reading a rule.** The type name and the description become concepts: content words,
  stemmed ("invoices" meets "invoiced"), with two-word phrases the cue vocabulary knows
  kept whole ("balance sheet", "line items", "sign-off"). Alternatives make one concept
  ("annual or quarterly", "NDAs, leases or service agreements": any one will do); words
  that say nothing about a document's kind ("document", "contains", "such as") are
  dropped; description words that repeat the type name or a synonym of it ("a CV",
  "agreement" for a contract) count as the name.
* **Cues.** Documents rarely repeat a rule's words: a real invoice says "Qty",
  "Subtotal" and "Bill to", not "line items" and "amounts". ``lexicon/cues.txt`` is a
  general vocabulary of how documents express common concepts; a concept finds its cues
  there by its own words, whichever rule it comes from. Structure found by pattern counts
  as cue tokens too: currency amounts, ``From:``/``To:``/``Subject:`` headers, greetings and
  sign-offs, blank ``____`` fields and ``[ ]`` checkboxes, signature lines, citations,
  slide markers, short bullets, employment periods ("2019 - present"). A cue counts
  ``CUE_WEIGHT`` of the rule's own word; one that several concepts of a rule share is
  split among them, as one trait is one piece of evidence.
* **Evidence.** A concept's occurrences saturate as in BM25, more slowly in documents
  longer than ``TYPICAL_DOCUMENT_WORDS``; the first ``OPENING_WORDS`` words (title,
  headers, abstract) count ``OPENING_BOOST`` times, as that is where a document says
  what it is. Words every kind of document uses ("number", "date") weigh less, and so
  does a concept several rules ask for (inverse rule frequency): it tells them apart less.
* **Score.** The description's score is the weighted share of its concepts the document
  shows (its coverage, 0 to 1). Naming the type is independent evidence, combined by
  noisy-or: it closes ``TYPE_WEIGHT`` of the remaining gap, and a document that does not
  name itself (a CV rarely says "resume") loses nothing. Several rules naming one type
  count as the best of them.

Confidence is a softmax over the types' scores (``TEMPERATURE``) in which "none of
these" takes part with ``NULL_SCORE``: a type is confident when it clearly beats both the
other types and what a document of no listed type scores. Below the confidence threshold
(``confidence_threshold`` in the config, 0 to 1, default ``DEFAULT_CONFIDENCE_THRESHOLD``)
the type is ``"unknown"`` and the closest type is reported as the runner-up; a higher
threshold trades recall for precision. ``bench/classify_accuracy.py`` measures this on a
labelled set of realistic documents (``bench/classify_eval/``).

The parts: ``classify_words`` (tokens, stems, the word lists of ``lexicon/``),
``classify_rules`` (a rule's concepts and their cues), ``classify_signals`` (what a
document shows: counts, structure tokens, the evidence for a concept); this module scores
the rules against a document and picks the type.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from docbatch.engines.base import EngineRequest, EngineResult
from docbatch.engines.classify_rules import Rule, concepts_of, rules_from_config
from docbatch.engines.classify_signals import Document
from docbatch.engines.parse import (
    ConvertOptions,
    PageSelection,
    convert_document,
    parse_page_spec,
)
from docbatch.errors import ConfigError

__all__ = [
    "DEFAULT_CONFIDENCE_THRESHOLD",
    "UNKNOWN",
    "Candidate",
    "Classification",
    "Rule",
    "classify_document",
    "classify_text",
    "confidence_threshold",
    "rules_from_config",
]

UNKNOWN = "unknown"
DEFAULT_CONFIDENCE_THRESHOLD = 0.4
"""Below this confidence the answer is ``unknown``. On the labelled set
(``bench/classify_eval``) accuracy is flat between 0.3 and 0.5 (0.955 to 0.964); 0.4 sits
in the middle. Lower lets documents of no listed type through, higher turns correct
but hesitant answers (a CV that reads like a finance text) into ``unknown``."""

TYPE_WEIGHT = 0.5
"""How much of the gap to a full score a document closes by naming the rule's type."""
NULL_SCORE = 0.4
"""The score "none of the types" competes with: documents of no rule's type mostly score
under it, and documents of a type mostly 0.5 to 0.85."""
TEMPERATURE = 0.08
"""Softmax temperature over scores: a lead of 0.1 is a factor of e^1.25 (3.5) in odds."""


@dataclass(frozen=True, slots=True)
class Candidate:
    """A type with its coverage score, confidence and the rule concepts found."""

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
    threshold: float = DEFAULT_CONFIDENCE_THRESHOLD

    def to_json(self) -> dict[str, Any]:
        """The JSON document stored as the classify output."""
        return {
            "type": self.type,
            "confidence": self.confidence,
            "runner_up": _candidate_json(self.runner_up),
            "scores": {c.type: c.score for c in self.candidates},
            "confidence_threshold": self.threshold,
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
    lang = parsing.get("lang")
    max_pages = parsing.get("max_pages")
    selection = PageSelection(
        target_pages=parse_page_spec(
            parsing.get("target_pages"), "parsing_configuration.target_pages"
        ),
        max_pages=max_pages if isinstance(max_pages, int) and max_pages > 0 else None,
    )
    # Scanned documents are classified from their OCR text, like parse reads them.
    conversion = convert_document(
        request.path,
        request.file_name,
        request.mime_type,
        pages=selection,
        options=ConvertOptions(ocr="enabled", languages=(str(lang),) if lang else ()),
    )
    if conversion.pages is None and (selection.target_pages or selection.max_pages):
        not_applied.append("parsing_configuration.pages")

    result = classify_text(conversion.markdown, rules, threshold=threshold)
    metadata: dict[str, Any] = {
        "type": result.type,
        "confidence": result.confidence,
        "runner_up": _candidate_json(result.runner_up),
        "confidence_threshold": threshold,
        "mode": "FAST",
        "source_format": conversion.source_format,
        "characters": len(conversion.markdown),
        "not_applied": not_applied,
    }
    return EngineResult(
        content=json.dumps(result.to_json(), ensure_ascii=False),
        content_type="application/json",
        extension="json",
        metadata=metadata,
    )


def classify_text(
    text: str, rules: Sequence[Rule], *, threshold: float = DEFAULT_CONFIDENCE_THRESHOLD
) -> Classification:
    """Score every rule against ``text`` and pick the best type, or ``unknown``."""
    document = Document.read(text)
    rule_concepts = [concepts_of(rule) for rule in rules]
    rule_frequency = Counter(key for concepts in rule_concepts for key in concepts)
    total_rules = len(rules)

    scored: dict[str, tuple[float, tuple[tuple[str, int], ...]]] = {}
    for rule, concepts in zip(rules, rule_concepts, strict=True):
        possible = found = named = 0.0
        type_words = 0
        matched: list[tuple[str, int]] = []
        for key, concept in concepts.items():
            evidence, hits = document.evidence(concept)
            saturated = evidence / (evidence + document.saturation)
            if hits:
                matched.append((concept.label, hits))
            if concept.names_type:
                named += saturated
                type_words += 1
                continue
            rarity = math.log(
                1 + (total_rules - rule_frequency[key] + 0.5) / (rule_frequency[key] + 0.5)
            )
            possible += concept.weight * rarity
            found += concept.weight * rarity * saturated
        named = named / type_words if type_words else 0.0
        # Naming itself ("INVOICE", "Agreement") is evidence beside the description's,
        # combined as independent evidence (noisy-or): a document that does not repeat
        # its type's name (a CV rarely says "resume") loses nothing by it.
        score = 1 - (1 - found / possible) * (1 - TYPE_WEIGHT * named) if possible else named
        # Several rules may name the same type: the best-matching one speaks for it.
        if rule.type not in scored or score > scored[rule.type][0]:
            matched.sort(key=lambda item: -item[1])
            scored[rule.type] = (score, tuple(matched))

    # Softmax over the scores plus "none of them" at NULL_SCORE: a type is confident when
    # it clearly beats both the other types and what an unrelated document would score.
    partition = math.exp(NULL_SCORE / TEMPERATURE) + sum(
        math.exp(score / TEMPERATURE) for score, _ in scored.values()
    )
    candidates = sorted(
        (
            Candidate(
                type=type_,
                score=round(score, 4),
                confidence=round(math.exp(score / TEMPERATURE) / partition, 4),
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
        threshold=threshold,
    )


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
    return confidence_threshold(value, default=DEFAULT_CONFIDENCE_THRESHOLD)


def confidence_threshold(value: object, *, default: float) -> float:
    """The config's ``confidence_threshold`` (a number in [0, 1]) or ``default``."""
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise ConfigError(
            "confidence_threshold: must be a number between 0 and 1",
            field="confidence_threshold",
        )
    return float(value)
