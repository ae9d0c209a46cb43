"""What a document shows the FAST classifier: counts of its stems, two-stem phrases and
structure tokens (amounts, mail headers, greetings, blank fields, slides…), opening words
weighted up, and the evidence they give for a rule's concept
(``docbatch.engines.classify``)."""

from __future__ import annotations

import bisect
import itertools
import re
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass

from docbatch.engines.classify_rules import Concept
from docbatch.engines.classify_words import WORD, stem_of, tokenize

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

_LINKS = re.compile(r"!\[[^\]]*\]\([^)]*\)|\]\([^)]*\)|https?://\S+|www\.\S+")
_MARKUP = re.compile(r"<!--.*?-->|<[^>\n]{1,200}>", re.DOTALL)


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


@dataclass(slots=True)
class Document:
    """Counts of a document's stems, two-stem phrases and structure tokens."""

    counts: dict[str, float]
    raw: Counter[str]
    vocabulary: list[str]
    saturation: float

    @classmethod
    def read(cls, text: str) -> Document:
        """Count what ``text`` shows, opening words counting ``OPENING_BOOST`` times."""
        text = _opening(_LINKS.sub(" ", text))
        tokens = list(tokenize(_MARKUP.sub(" ", text)))[:MAX_WORDS]
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
                stem = stem_of(part)
                if previous is not None:
                    raw[f"{previous} {stem}"] += 1
                    counts[f"{previous} {stem}"] += weight
                previous = stem
        content_words = sum(1 for token in tokens if token.stems)
        # Short documents keep plain BM25 saturation; only long ones are damped.
        saturation = K1 * max(1.0, 1 - B + B * content_words / TYPICAL_DOCUMENT_WORDS)
        vocabulary = sorted(key for key in counts if " " not in key and not key.startswith("#"))
        return cls(counts=counts, raw=raw, vocabulary=vocabulary, saturation=saturation)

    def evidence(self, concept: Concept) -> tuple[float, int]:
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
    beyond = next(itertools.islice(WORD.finditer(text), MAX_WORDS, None), None)
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
