"""Accuracy of the FAST classifier on the labelled set in ``bench/classify_eval/``.

    .venv/bin/python bench/classify_accuracy.py [--threshold 0.3] [--rules FILE] [--all]
                                                [--sweep]

Classifies every document of ``labels.json`` with the rules of ``rules.json`` (or
``--rules``, e.g. ``rules_terse.json``: the same types worded as another user might)
through ``classify_document``, conversion included as in a job, and prints overall
accuracy, precision and recall per type, the misclassified documents with their
confidence and runner-up, and how documents of none of the types fare (they should come
out ``unknown``). ``--sweep`` adds accuracy at other confidence thresholds. Exits 1 when
accuracy is below ``MIN_ACCURACY``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from docbatch.engines.base import EngineRequest
from docbatch.engines.classify import UNKNOWN, classify_document

EVAL_DIR = Path(__file__).resolve().parent / "classify_eval"
CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "documents"
CORPUS_PREFIX = "corpus:"
RULES = EVAL_DIR / "rules.json"
MIN_ACCURACY = 0.90
SWEEP = (0.0, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7)


@dataclass(frozen=True, slots=True)
class Outcome:
    """The classifier's answer for one labelled document."""

    name: str
    expected: str
    predicted: str
    confidence: float
    runner_up: dict[str, Any] | None

    @property
    def correct(self) -> bool:
        """Whether the predicted type is the labelled one."""
        return self.predicted == self.expected

    def at_threshold(self, threshold: float) -> str:
        """What the prediction would be under another confidence threshold."""
        # An ``unknown`` answer carries the best type as its runner-up, with the same
        # confidence, so one run answers for every threshold.
        best = self.predicted if self.predicted != UNKNOWN else (self.runner_up or {}).get("type")
        return str(best) if best and self.confidence >= threshold else UNKNOWN


@dataclass(frozen=True, slots=True)
class Evaluation:
    """All outcomes of one run, with the summary figures derived from them."""

    outcomes: tuple[Outcome, ...]
    missing: tuple[str, ...]
    seconds: float

    @property
    def accuracy(self) -> float:
        """Share of documents given their labelled type (``unknown`` included)."""
        return sum(o.correct for o in self.outcomes) / len(self.outcomes)

    @property
    def unknown_rate(self) -> float:
        """Share of out-of-class documents that came out ``unknown``."""
        others = [o for o in self.outcomes if o.expected == UNKNOWN]
        return sum(o.predicted == UNKNOWN for o in others) / len(others) if others else 1.0

    @property
    def false_unknown_rate(self) -> float:
        """Share of in-class documents wrongly called ``unknown``."""
        typed = [o for o in self.outcomes if o.expected != UNKNOWN]
        return sum(o.predicted == UNKNOWN for o in typed) / len(typed) if typed else 0.0

    def per_type(self) -> dict[str, tuple[float, float, int]]:
        """Type → (precision, recall, number of documents labelled with it)."""
        types = sorted({o.expected for o in self.outcomes} | {o.predicted for o in self.outcomes})
        table = {}
        for type_ in types:
            predicted = [o for o in self.outcomes if o.predicted == type_]
            labelled = [o for o in self.outcomes if o.expected == type_]
            hits = sum(o.correct for o in labelled)
            precision = hits / len(predicted) if predicted else 0.0
            recall = hits / len(labelled) if labelled else 0.0
            table[type_] = (precision, recall, len(labelled))
        return table


def load_rules(path: Path = RULES) -> list[dict[str, str]]:
    """The rules of the set, as a user would pass them in a classify config."""
    rules: list[dict[str, str]] = json.loads(path.read_text())
    return rules


def load_labels() -> dict[str, str]:
    """Document name (relative path or ``corpus:<file>``) → expected type."""
    labels: dict[str, str] = json.loads((EVAL_DIR / "labels.json").read_text())
    return labels


def resolve(name: str) -> Path:
    """The file behind a label name."""
    if name.startswith(CORPUS_PREFIX):
        return CORPUS / name.removeprefix(CORPUS_PREFIX)
    return EVAL_DIR / name


def evaluate(threshold: float | None = None, rules: Path = RULES) -> Evaluation:
    """Classify every labelled document that exists and collect the outcomes."""
    config: dict[str, Any] = {"rules": load_rules(rules), "mode": "FAST"}
    if threshold is not None:
        config["confidence_threshold"] = threshold
    started = time.perf_counter()
    labels = load_labels()
    # The shared corpus lives outside the repository; a checkout without it still
    # evaluates the documents of its own.
    missing = [name for name in labels if not resolve(name).is_file()]
    outcomes = [
        _classify(name, expected, config)
        for name, expected in labels.items()
        if name not in missing
    ]
    return Evaluation(
        outcomes=tuple(outcomes), missing=tuple(missing), seconds=time.perf_counter() - started
    )


def _classify(name: str, expected: str, config: dict[str, Any]) -> Outcome:
    path = resolve(name)
    meta = classify_document(
        EngineRequest(path=str(path), file_name=path.name, job_type="classify", config=config)
    ).metadata
    return Outcome(
        name=name,
        expected=expected,
        predicted=str(meta["type"]),
        confidence=float(meta["confidence"]),
        runner_up=meta.get("runner_up"),
    )


def sweep(evaluation: Evaluation) -> str:
    """Accuracy and unknown handling at the confidence thresholds of ``SWEEP``."""
    lines = [f"{'threshold':>10}{'accuracy':>10}{'unknown ok':>12}{'typed->unknown':>16}"]
    others = [o for o in evaluation.outcomes if o.expected == UNKNOWN]
    typed = [o for o in evaluation.outcomes if o.expected != UNKNOWN]
    for threshold in SWEEP:
        correct = sum(o.at_threshold(threshold) == o.expected for o in evaluation.outcomes)
        caught = sum(o.at_threshold(threshold) == UNKNOWN for o in others)
        lost = sum(o.at_threshold(threshold) == UNKNOWN for o in typed)
        lines.append(
            f"{threshold:>10.2f}{correct / len(evaluation.outcomes):>10.3f}"
            f"{caught / max(1, len(others)):>12.2f}{lost / max(1, len(typed)):>16.2f}"
        )
    return "\n".join(lines)


def report(evaluation: Evaluation, *, show_all: bool = False) -> str:
    """The human-readable report of one evaluation."""
    lines = []
    outcomes = evaluation.outcomes
    correct = sum(o.correct for o in outcomes)
    lines.append(
        f"documents: {len(outcomes)}   correct: {correct}   "
        f"accuracy: {evaluation.accuracy:.3f}   ({evaluation.seconds:.1f}s)"
    )
    if evaluation.missing:
        lines.append(f"skipped (file not found): {', '.join(evaluation.missing)}")
    lines.append("")
    lines.append(f"{'type':<20}{'precision':>10}{'recall':>10}{'docs':>6}")
    for type_, (precision, recall, support) in evaluation.per_type().items():
        lines.append(f"{type_:<20}{precision:>10.2f}{recall:>10.2f}{support:>6}")
    lines.append("")
    others = sum(o.expected == UNKNOWN for o in outcomes)
    lines.append(
        f"out-of-class documents called unknown: {evaluation.unknown_rate:.2f} "
        f"(of {others});  in-class documents called unknown: "
        f"{evaluation.false_unknown_rate:.2f}"
    )
    lines.append("")
    shown = outcomes if show_all else tuple(o for o in outcomes if not o.correct)
    lines.append("all documents:" if show_all else "misclassified:")
    if not shown:
        lines.append("  (none)")
    for o in shown:
        runner = o.runner_up or {}
        mark = "ok " if o.correct else "ERR"
        lines.append(
            f"  {mark} {o.name:<58} expected {o.expected:<17} got {o.predicted:<17} "
            f"{o.confidence:.2f}  runner-up {runner.get('type', '-')} "
            f"{float(runner.get('confidence', 0.0)):.2f}"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the evaluation, print the report, fail below ``MIN_ACCURACY``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threshold", type=float, default=None, help="confidence_threshold")
    parser.add_argument("--rules", type=Path, default=RULES, help="rules JSON file")
    parser.add_argument("--all", action="store_true", help="list every document")
    parser.add_argument("--sweep", action="store_true", help="accuracy at other thresholds")
    args = parser.parse_args(argv)
    evaluation = evaluate(args.threshold, args.rules)
    print(report(evaluation, show_all=args.all))
    if args.sweep:
        print()
        print(sweep(evaluation))
    if evaluation.accuracy < MIN_ACCURACY:
        print(f"\nFAIL: accuracy {evaluation.accuracy:.3f} < {MIN_ACCURACY}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
