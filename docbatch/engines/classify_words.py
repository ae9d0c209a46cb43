"""Words as the FAST classifier reads them, in rules and documents alike: tokens split at
hyphens and apostrophes, a light English stemmer, and the word lists of ``lexicon/``
(``docbatch.engines.classify``)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources


def lexicon_text(name: str) -> str:
    """A file of ``lexicon/`` without its ``#`` comment lines."""
    text = (resources.files("docbatch.engines") / "lexicon" / name).read_text("utf-8")
    return "\n".join(line for line in text.splitlines() if not line.startswith("#"))


def lexicon_words(name: str) -> frozenset[str]:
    return frozenset(lexicon_text(name).split())


WORD = re.compile(r"[^\W\d_]+(?:[-‐'’][^\W\d_]+)*")

_STOPWORDS = lexicon_words("stopwords.txt")
# Words the suffix rules would merge with a different word ("news" is not "new").
_UNSTEMMED = frozenset({"news", "series", "species", "means", "physics", "economics"})


@dataclass(frozen=True, slots=True)
class Token:
    """One written word, lowercased, possessive dropped, split at hyphens/apostrophes."""

    parts: tuple[str, ...]

    @property
    def stems(self) -> tuple[str, ...]:
        """Stems it counts as: a hyphenated word's whole, then its content parts."""
        whole = (stem_of("".join(self.parts)),) if len(self.parts) > 1 else ()
        return whole + tuple(stem_of(part) for part in self.parts if is_content(part))


def tokenize(text: str) -> Iterator[Token]:
    """The words of ``text`` in order, stopwords included (phrases need them)."""
    for match in WORD.finditer(text.lower()):
        word = re.sub(r"['’]s$", "", match.group())
        parts = tuple(part for part in re.split(r"[-‐'’]", word) if part)
        if parts:
            yield Token(parts)


def is_content(part: str) -> bool:
    return len(part) > 1 and part not in _STOPWORDS


@lru_cache(maxsize=65536)
def stem_of(word: str) -> str:
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
