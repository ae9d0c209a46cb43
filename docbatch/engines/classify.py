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
  "Subtotal" and "Bill to", not "line items" and "amounts". ``_CUE_TEXT`` is a general
  vocabulary of how documents express common concepts; a concept finds its cues there by
  its own words, whichever rule it comes from. Structure found by pattern counts as cue
  tokens too: currency amounts, ``From:``/``To:``/``Subject:`` headers, greetings and
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
"""

from __future__ import annotations

import bisect
import itertools
import json
import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

from docbatch.engines.base import EngineRequest, EngineResult
from docbatch.engines.parse import (
    ConvertOptions,
    PageSelection,
    convert_document,
    parse_page_spec,
)
from docbatch.errors import ConfigError


def _lexicon_text(name: str) -> str:
    """A file of ``lexicon/`` without its ``#`` comment lines."""
    text = (resources.files("docbatch.engines") / "lexicon" / name).read_text("utf-8")
    return "\n".join(line for line in text.splitlines() if not line.startswith("#"))


def _words(name: str) -> frozenset[str]:
    return frozenset(_lexicon_text(name).split())


UNKNOWN = "unknown"
DEFAULT_CONFIDENCE_THRESHOLD = 0.4
"""Below this confidence the answer is ``unknown``. On the labelled set
(``bench/classify_eval``) accuracy is flat between 0.3 and 0.5 (0.955 to 0.964); 0.4 sits
in the middle. Lower lets documents of no listed type through, higher turns correct
but hesitant answers (a CV that reads like a finance text) into ``unknown``."""

TYPE_WEIGHT = 0.5
"""How much of the gap to a full score a document closes by naming the rule's type."""
GENERIC_WEIGHT = 0.5
"""Weight of description words that turn up in documents of every kind."""
CUE_WEIGHT = 0.8
"""What one occurrence of a cue counts for, against 1 for the rule's own word."""
PREFIX_CREDIT = 0.7
"""A stem that is a prefix (``MIN_PREFIX_LENGTH``+ letters) of a document word counts
this much of a match ("education" / "educational")."""
MIN_PREFIX_LENGTH = 5
K1 = 1.2
B = 0.75
TYPICAL_DOCUMENT_WORDS = 500
"""BM25 length normalisation: a long book mentions every rule's words somewhere, so
occurrences in a document longer than this count for less."""
MAX_WORDS = 5000
"""Only the opening words are scored (about ten pages): the kind of a document shows in
its first pages, and a whole book would match every rule a little."""
OPENING_WORDS = 60
OPENING_BOOST = 2.0
"""Words among the first ``OPENING_WORDS`` count this many times."""
NULL_SCORE = 0.4
"""The score "none of the types" competes with: documents of no rule's type mostly score
under it, and documents of a type mostly 0.5 to 0.85."""
TEMPERATURE = 0.08
"""Softmax temperature over scores: a lead of 0.1 is a factor of e^1.25 (3.5) in odds."""

_WORD = re.compile(r"[^\W\d_]+(?:[-‐'’][^\W\d_]+)*")
_LINKS = re.compile(r"!\[[^\]]*\]\([^)]*\)|\]\([^)]*\)|https?://\S+|www\.\S+")
_MARKUP = re.compile(r"<!--.*?-->|<[^>\n]{1,200}>", re.DOTALL)

_STOPWORDS = _words("stopwords.txt")
_RULE_FILLER = _words("rule-filler.txt")  # rule wording that names no document trait
_GENERIC = _words("generic.txt")  # in every kind of document: weighted down
# "Two or more parties" offers no alternative: "or" before these is not a choice.
_QUANTIFIERS = frozenset({"more", "less", "fewer", "most", "least"})
# Words the suffix rules would merge with a different word ("news" is not "new").
_UNSTEMMED = frozenset({"news", "series", "species", "means", "physics", "economics"})


# Structure counted as cue tokens; patterns run on the converted markdown, per line (M).
_CURRENCY = r"[$€£¥₹]|\b(?:USD|EUR|GBP|CHF|JPY|CAD|AUD|NZD|INR|NOK|SEK|DKK|PLN)\b"
_STRUCTURE: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (token, re.compile(pattern, re.IGNORECASE | re.MULTILINE))
    for token, pattern in (
        ("#money", rf"(?:{_CURRENCY})\s?\(?-?\d|\d[\d,.]*\s?(?:{_CURRENCY})"),
        ("#decimal", r"(?<![\d.,])\d{1,3}(?:[,.\s]\d{3})*[.,]\d{2}(?![\d.,%])"),
        ("#emailaddr", r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b"),
        (
            "#phone",
            r"(?:\+\d{1,3}[\s.-]?\(?\d{1,4}\)?[\s.-]?\d{2,4}[\s.-]?\d{2,4}(?:[\s.-]?\d{2,4})?"
            r"|\(\d{3}\)\s?\d{3}[\s.-]\d{4}|\b\d{3}[.-]\d{3}[.-]\d{4}\b"
            r"|\b0\d{2,4}[\s-]\d{3}[\s-]?\d{3,4}\b)",
        ),
        ("#from", r"^[\s>*_\-]*(?:from|sender)\**\s*:"),
        ("#to", r"^[\s>*_\-]*(?:to|cc|bcc)\**\s*:"),
        ("#subject", r"^[\s>*_\-]*(?:subject|re)\**\s*:"),
        ("#header", r"^[\s>*_\-]*(?:from|to|cc|bcc|subject|sent|date)\**\s*:\**[ \t]*[^\s_]"),
        (
            "#greeting",
            r"^\W*(?:dear|hi|hello|hey|good (?:morning|afternoon|evening)|greetings)\b"
            r"[^\n]{0,40}[,:!]?\s*$",
        ),
        (
            "#signoff",
            r"^\W*(?:(?:kind |best |warm |with )?regards|sincerely|yours (?:sincerely|faithfully|"
            r"truly)|(?:best|warm|all the) (?:wishes|best)|cheers|(?:many )?thanks(?: again)?|"
            r"thank you|best)\W*$",
        ),
        ("#blank", r"_{4,}|\.{6,}|…{3,}|\(\s{3,}\)|(?:__\s*/\s*){2}"),
        ("#checkbox", r"[☐☑☒□✓✔]|\[(?:\s|\s?[xX✓✔]\s?)\]|\(\s\)"),
        (
            "#signline",
            r"(?:sign(?:ed|ature)?|/s/)[^\n]{0,40}(?:_{4,}|\.{6,}|…{3,})"
            r"|(?:_{4,}|…{3,})[^\n]{0,20}\(?(?:sign|signature)|^\s*/s/",
        ),
        (
            "#citation",
            r"\[\d{1,3}(?:\s*[,–-]\s*\d{1,3})*\]|\bet al\b"
            r"|\([A-Z][\w'-]+(?: (?:and|&) [A-Z][\w'-]+| et al\.?)?,? (?:19|20)\d{2}[a-z]?[;)]",
        ),
        ("#slide", r"<!--\s*slide number:\s*\d+\s*-->|^\s*slide \d+\b"),
        ("#rule", r"^\s*---\s*$"),
        ("#heading", r"^\s*#{1,4}\s+\S"),
        (
            "#period",
            r"\b(?:(?:19|20)\d{2}|\d{1,2}/(?:19|20)?\d{2})\s*(?:[-–—]|to)\s*(?:[a-z]{3,9}\.?\s)?"
            r"(?:(?:19|20)\d{2}\b|present\b|now\b|current\b|today\b)",
        ),
        ("#quarter", r"\b(?:Q[1-4]|H[12]|[1-4]Q)\b"),
        ("#fy", r"\bFY\s?'?\d{2,4}\b"),
    )
)
_BULLET = re.compile(r"(?:[-*•+▪]|\d{1,2}[.)])\s+(?=\S)")
_SLIDE_MARKER = re.compile(r"\s*<!--\s*slide number:\s*\d+\s*-->", re.IGNORECASE)
_LAYOUT = frozenset({"#bullet", "#heading"})
_BULLET_WORDS = 12
"""Bullet points on slides are short; longer bulleted lines are prose (a CV's duties)."""
_SEPARATED_SECTIONS = 3
_WORDS_PER_SLIDE = 80
"""``---`` separators count as slide breaks (Marp and reveal.js decks) only when there are
at least ``_SEPARATED_SECTIONS`` of them with short sections between; otherwise they are
horizontal rules."""


@dataclass(frozen=True, slots=True)
class Rule:
    """One classification rule: the type to assign and what such documents look like."""

    type: str
    description: str


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
    document = _Document.read(text)
    rule_concepts = [_rule_concepts(rule) for rule in rules]
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


# ------------------------------------------------------------------ scoring


@dataclass(frozen=True, slots=True)
class _Concept:
    """One thing a rule asks for: its own stem (or phrase) and the cues that show it."""

    label: str
    weight: float
    cues: tuple[tuple[str, float], ...]
    """(stem, two-stem phrase or structure token; what one occurrence counts for)."""
    names_type: bool = False
    words: frozenset[str] = frozenset()
    """The rule's own stems among the cues (they alone get prefix credit)."""


@dataclass(slots=True)
class _Document:
    """Counts of a document's stems, two-stem phrases and structure tokens."""

    counts: dict[str, float]
    raw: Counter[str]
    vocabulary: list[str]
    saturation: float

    @classmethod
    def read(cls, text: str) -> _Document:
        """Count what ``text`` shows, opening words counting ``OPENING_BOOST`` times."""
        text = _opening(_LINKS.sub(" ", text))
        tokens = list(_tokens(_MARKUP.sub(" ", text)))[:MAX_WORDS]
        structure = _structure(text, len(tokens))
        raw: Counter[str] = Counter(structure)
        counts: dict[str, float] = defaultdict(float, _layout_weights(structure, text))
        previous: str | None = None
        for position, token in enumerate(tokens):
            weight = OPENING_BOOST if position < OPENING_WORDS else 1.0
            for stem in token.stems:
                raw[stem] += 1
                counts[stem] += weight
            for part in token.parts:
                stem = _stem(part)
                if previous is not None:
                    raw[f"{previous} {stem}"] += 1
                    counts[f"{previous} {stem}"] += weight
                previous = stem
        content_words = sum(1 for token in tokens if token.stems)
        # Short documents keep plain BM25 saturation; only long ones are damped.
        saturation = K1 * max(1.0, 1 - B + B * content_words / TYPICAL_DOCUMENT_WORDS)
        vocabulary = sorted(key for key in counts if " " not in key and not key.startswith("#"))
        return cls(counts=counts, raw=raw, vocabulary=vocabulary, saturation=saturation)

    def evidence(self, concept: _Concept) -> tuple[float, int]:
        """The concept's weighted occurrence count and its raw number of hits."""
        evidence = 0.0
        hits = 0
        for cue, weight in concept.cues:
            count = self.counts.get(cue, 0.0)
            raw = self.raw.get(cue, 0)
            # Only the rule's own words reach their relatives ("educational"): the lexicon
            # lists the forms of its cues, and prefixes of those would drift ("referee").
            if cue in concept.words and " " not in cue and len(cue) >= MIN_PREFIX_LENGTH:
                for word in self._prefix_relatives(cue):
                    count += PREFIX_CREDIT * self.counts[word]
                    raw += self.raw[word]
            evidence += weight * count
            hits += raw
        return evidence, hits

    def _prefix_relatives(self, stem: str) -> Iterator[str]:
        """Document stems that extend ``stem``, or that ``stem`` extends (both 5+ letters)."""
        start = bisect.bisect_right(self.vocabulary, stem)
        for word in self.vocabulary[start:]:
            if not word.startswith(stem):
                break
            yield word
        for length in range(MIN_PREFIX_LENGTH, len(stem)):
            prefix = stem[:length]
            if prefix in self.counts:
                yield prefix


def _opening(text: str) -> str:
    """``text`` up to its ``MAX_WORDS``-th word (a book is not read to the end)."""
    beyond = next(itertools.islice(_WORD.finditer(text), MAX_WORDS, None), None)
    return text if beyond is None else text[: beyond.start()]


def _structure(text: str, words: int) -> Counter[str]:
    """Structure tokens of ``text`` (``#money``, ``#greeting`` …) with their counts."""
    found: Counter[str] = Counter()
    for token, pattern in _STRUCTURE:
        count = sum(1 for _ in pattern.finditer(text))
        if count:
            found[token] = count
    found["#bullet"] += _short_bullets(text)
    separators = found.pop("#rule", 0)
    if separators >= _SEPARATED_SECTIONS and words / (separators + 1) <= _WORDS_PER_SLIDE:
        found["#slide"] += separators
    return +found


def _layout_weights(structure: Counter[str], text: str) -> dict[str, float]:
    """What each structure token counts for: layout tokens (bullets, headings) by the share
    of lines they make up, as a book's scattered headings do not make it slides."""
    lines = max(1, sum(1 for line in text.splitlines() if line.strip()))
    return {
        token: count * min(1.0, count / lines) if token in _LAYOUT else float(count)
        for token, count in structure.items()
    }


def _short_bullets(text: str) -> int:
    """Bullet lines of at most ``_BULLET_WORDS`` words; in a converted deck (slide
    markers), every line of a slide's body, as each is a text-frame paragraph."""
    count = 0
    in_slide = False
    for line in text.splitlines():
        if _SLIDE_MARKER.match(line):
            in_slide = True
            continue
        stripped = line.strip()
        bullet = _BULLET.match(stripped)
        if bullet:
            stripped = stripped[bullet.end() :]
        elif not in_slide or not stripped or stripped[0] in "#|<":
            continue
        if 0 < len(stripped.split()) <= _BULLET_WORDS:
            count += 1
    return count


@dataclass(frozen=True, slots=True)
class _Token:
    """One written word, lowercased, possessive dropped, split at hyphens/apostrophes."""

    parts: tuple[str, ...]

    @property
    def stems(self) -> tuple[str, ...]:
        """Stems it counts as: a hyphenated word's whole, then its content parts."""
        whole = (_stem("".join(self.parts)),) if len(self.parts) > 1 else ()
        return whole + tuple(_stem(part) for part in self.parts if _is_content(part))


def _tokens(text: str) -> Iterator[_Token]:
    """The words of ``text`` in order, stopwords included (phrases need them)."""
    for match in _WORD.finditer(text.lower()):
        word = re.sub(r"['’]s$", "", match.group())
        parts = tuple(part for part in re.split(r"[-‐'’]", word) if part)
        if parts:
            yield _Token(parts)


def _is_content(part: str) -> bool:
    return len(part) > 1 and part not in _STOPWORDS


@lru_cache(maxsize=256)
def _rule_concepts(rule: Rule) -> dict[str, _Concept]:
    """Concept key → concept for one rule: the type name's words, then the description's
    (alternatives such as "annual or quarterly" make one concept)."""
    named = dict(_rule_keys(rule.type))
    naming = set(named).union(*(_synonyms().get(key, ()) for key in named))
    also_named: set[str] = set()
    described: dict[str, tuple[str, float, tuple[str, ...]]] = {}
    for group in _rule_groups(rule.description):
        # Description words that repeat the type name or a synonym of it ("a CV",
        # "agreement" for a contract) count as the name.
        members = [(key, label) for key, label in group if key not in naming]
        also_named.update(key for key, _ in group if key in naming and key not in named)
        if not members:
            continue
        key = members[0][0]
        label = "/".join(label for _, label in members)
        weight = max(GENERIC_WEIGHT if label in _GENERIC else 1.0 for _, label in members)
        if weight > described.get(key, ("", 0.0, ()))[1]:
            described[key] = (label, weight, tuple(member for member, _ in members))
    # The name and the description are combined as independent evidence (noisy-or), so
    # they must not share cues: the description keeps what it asks for, the name keeps
    # its own words and the cues the description does not mention.
    description_cues = {cue for _, _, keys in described.values() for cue, _ in _cues(*keys)}
    concepts: dict[str, _Concept] = {}
    for key, label in named.items():
        synonyms = sorted(also_named & _synonyms().get(key, frozenset()))
        words = (key, *synonyms)
        cues = tuple(
            (cue, weight)
            for cue, weight in _cues(*words)
            if cue in words or cue not in description_cues
        )
        concepts[key] = _Concept(
            label=label, weight=1.0, cues=cues, names_type=True, words=frozenset(words)
        )
    for key, (label, weight, keys) in described.items():
        cues = tuple((cue, w) for cue, w in _cues(*keys) if cue not in naming or cue in keys)
        concepts[key] = _Concept(label=label, weight=weight, cues=cues, words=frozenset(keys))
    # One occurrence is one piece of evidence: a cue several concepts of the rule share
    # ("#checkbox" for "form", "filled in" and "checkboxes") is split among them rather
    # than counted by each, or a single trait would look like most of the description.
    sharing = Counter(cue for concept in concepts.values() for cue, _ in concept.cues)
    return {
        key: _Concept(
            label=concept.label,
            weight=concept.weight,
            cues=tuple((cue, weight / sharing[cue]) for cue, weight in concept.cues),
            names_type=concept.names_type,
            words=concept.words,
        )
        for key, concept in concepts.items()
    }


def _rule_groups(text: str) -> list[list[tuple[str, str]]]:
    """The description's concepts in order, alternatives grouped: "A or B", and a comma
    list ending in one ("NDAs, leases or service agreements"), ask for any one of them."""
    groups: list[list[tuple[str, str]]] = []
    text = re.sub(r"\b(?:e\.g|i\.e|etc|incl)\.", " ", text, flags=re.IGNORECASE)
    for clause in re.split(r"[.;:()!?]", text):
        pieces = re.split(r"\s*(,|\bor\b|\band\b|&|/)\s*", clause, flags=re.IGNORECASE)
        # (span, the connector before it); each span's concepts, numbered in order.
        spans = [(pieces[0], "")] + [
            (pieces[i + 1], pieces[i].lower()) for i in range(1, len(pieces) - 1, 2)
        ]
        flat: list[tuple[str, str]] = []
        positions: list[list[int]] = []
        for span, _ in spans:
            keys = list(_rule_keys(span))
            positions.append(list(range(len(flat), len(flat) + len(keys))))
            flat.extend(keys)
        group_of = list(range(len(flat)))
        for i, (span, connector) in enumerate(spans):
            if connector not in ("or", "/") or not positions[i] or not positions[i - 1]:
                continue
            if (span.split() or [""])[0].lower() in _QUANTIFIERS:
                continue  # "two or more parties" offers no alternative
            members = [positions[i - 1][-1], positions[i][0]]
            j = i - 1
            while len(positions[j]) == 1 and spans[j][1] == "," and len(positions[j - 1]) == 1:
                j -= 1
                members.append(positions[j][0])
            first = min(group_of[member] for member in members)
            merging = {group_of[member] for member in members}
            group_of = [first if group in merging else group for group in group_of]
        merged: dict[int, list[tuple[str, str]]] = {}
        for group, concept in zip(group_of, flat, strict=True):
            merged.setdefault(group, []).append(concept)
        groups.extend(merged[group] for group in sorted(merged))
    return groups


def _rule_keys(text: str) -> Iterator[tuple[str, str]]:
    """(concept key, the rule's words): phrases and hyphenated words the lexicon knows
    stay whole, other content words count one by one."""
    lexicon = _lexicon()
    tokens = list(_tokens(text))
    # Flattened parts, each with whether it starts a hyphenated word (and that word).
    parts = [
        (part, token if index == 0 and len(token.parts) > 1 else None)
        for token in tokens
        for index, part in enumerate(token.parts)
    ]
    position = 0
    while position < len(parts):
        part, compound = parts[position]
        if compound is not None and (whole := compound.stems[0]) in lexicon:
            yield whole, "-".join(compound.parts)
            position += len(compound.parts)
            continue
        if position + 1 < len(parts):
            following = parts[position + 1][0]
            phrase = f"{_stem(part)} {_stem(following)}"
            if phrase in lexicon and _is_content(part) and _is_content(following):
                yield phrase, f"{part} {following}"
                position += 2
                continue
        if _is_content(part) and part not in _RULE_FILLER:
            yield _stem(part), part
        position += 1


def _cues(*keys: str) -> tuple[tuple[str, float], ...]:
    """The concept's own stems at weight 1, then their lexicon cues at ``CUE_WEIGHT``."""
    cues = dict.fromkeys(keys, 1.0)
    for key in keys:
        for cue in sorted(_lexicon().get(key, ())):
            cues.setdefault(cue, CUE_WEIGHT)
    return tuple(cues.items())


@lru_cache(maxsize=1)
def _lexicon() -> dict[str, frozenset[str]]:
    """Stemmed ``lexicon/cues.txt``: key (stem or "stem stem") → cues (same form or
    ``#token``)."""
    return {key: cues for key, (_, cues) in _vocabulary().items()}


@lru_cache(maxsize=1)
def _synonyms() -> dict[str, frozenset[str]]:
    """Key → the other keys of its ``cues.txt`` lines (words for the same thing)."""
    return {key: synonyms for key, (synonyms, _) in _vocabulary().items()}


@lru_cache(maxsize=1)
def _vocabulary() -> dict[str, tuple[frozenset[str], frozenset[str]]]:
    """Key → (its synonyms, all its cues) from ``lexicon/cues.txt``: how documents
    express common concepts, ``keys = cues`` per line (see the file's header)."""
    synonyms: dict[str, set[str]] = {}
    cues: dict[str, set[str]] = {}
    for line in _lexicon_text("cues.txt").replace("\\\n", "").splitlines():
        if "=" not in line:
            continue
        keys_text, cues_text = line.split("=", 1)
        keys = [key for key in map(_phrase_key, keys_text.split("/")) if key]
        found = [cue for cue in map(_phrase_key, cues_text.split(",")) if cue]
        for key in keys:
            synonyms.setdefault(key, set()).update(k for k in keys if k != key)
            cues.setdefault(key, set()).update(k for k in keys + found if k != key)
    return {key: (frozenset(synonyms[key]), frozenset(cues[key])) for key in cues}


def _phrase_key(phrase: str) -> str:
    """The lookup form of a lexicon entry: a stem, two stems joined by a space, the stem
    of a hyphenated word's whole, or a ``#`` structure token."""
    phrase = phrase.strip().lower()
    if phrase.startswith("#"):
        return phrase
    tokens = list(_tokens(phrase))
    if len(tokens) == 1:
        return tokens[0].stems[0] if tokens[0].stems else ""
    return " ".join(_stem(part) for token in tokens for part in token.parts)


@lru_cache(maxsize=65536)
def _stem(word: str) -> str:
    """A light English stemmer: plural, verb and ``-ly`` endings, then a final ``e``."""
    if len(word) <= 3 or word in _UNSTEMMED:
        return word
    if word.endswith("ies") and len(word) > 4:
        word = word[:-3] + "y"
    elif word.endswith(("sses", "xes", "ches", "shes", "zes")):
        word = word[:-2]
    elif word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    if word.endswith("ing") and len(word) > 5:
        word = word[:-3]
    elif (word.endswith("ed") and len(word) > 4) or (word.endswith("ly") and len(word) > 6):
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
