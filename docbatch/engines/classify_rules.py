"""Reading a FAST classification rule: its type name and description become concepts,
each with the cues that show it in a document, from the vocabulary of ``lexicon/cues.txt``
(``docbatch.engines.classify``)."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from docbatch.engines.classify_words import (
    is_content,
    lexicon_text,
    lexicon_words,
    stem_of,
    tokenize,
)
from docbatch.errors import ConfigError

GENERIC_WEIGHT = 0.5
"""Weight of description words that turn up in documents of every kind."""
CUE_WEIGHT = 0.8
"""What one occurrence of a cue counts for, against 1 for the rule's own word."""

_RULE_FILLER = lexicon_words("rule-filler.txt")  # rule wording that names no document trait
_GENERIC = lexicon_words("generic.txt")  # in every kind of document: weighted down
# "Two or more parties" offers no alternative: "or" before these is not a choice.
_QUANTIFIERS = frozenset({"more", "less", "fewer", "most", "least"})


@dataclass(frozen=True, slots=True)
class Rule:
    """One classification rule: the type to assign and what such documents look like."""

    type: str
    description: str


@dataclass(frozen=True, slots=True)
class Concept:
    """One thing a rule asks for: its own stem (or phrase) and the cues that show it."""

    label: str
    weight: float
    cues: tuple[tuple[str, float], ...]
    """(stem, two-stem phrase or structure token; what one occurrence counts for)."""
    names_type: bool = False
    words: frozenset[str] = frozenset()
    """The rule's own stems among the cues (they alone get prefix credit)."""


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


@lru_cache(maxsize=256)
def concepts_of(rule: Rule) -> dict[str, Concept]:
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
    concepts: dict[str, Concept] = {}
    for key, label in named.items():
        synonyms = sorted(also_named & _synonyms().get(key, frozenset()))
        words = (key, *synonyms)
        cues = tuple(
            (cue, weight)
            for cue, weight in _cues(*words)
            if cue in words or cue not in description_cues
        )
        concepts[key] = Concept(
            label=label, weight=1.0, cues=cues, names_type=True, words=frozenset(words)
        )
    for key, (label, weight, keys) in described.items():
        cues = tuple((cue, w) for cue, w in _cues(*keys) if cue not in naming or cue in keys)
        concepts[key] = Concept(label=label, weight=weight, cues=cues, words=frozenset(keys))
    # One occurrence is one piece of evidence: a cue several concepts of the rule share
    # ("#checkbox" for "form", "filled in" and "checkboxes") is split among them rather
    # than counted by each, or a single trait would look like most of the description.
    sharing = Counter(cue for concept in concepts.values() for cue, _ in concept.cues)
    return {
        key: Concept(
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
    tokens = list(tokenize(text))
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
            phrase = f"{stem_of(part)} {stem_of(following)}"
            if phrase in lexicon and is_content(part) and is_content(following):
                yield phrase, f"{part} {following}"
                position += 2
                continue
        if is_content(part) and part not in _RULE_FILLER:
            yield stem_of(part), part
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
    for line in lexicon_text("cues.txt").replace("\\\n", "").splitlines():
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
    tokens = list(tokenize(phrase))
    if len(tokens) == 1:
        return tokens[0].stems[0] if tokens[0].stems else ""
    return " ".join(stem_of(part) for token in tokens for part in token.parts)
