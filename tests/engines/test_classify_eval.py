"""Quality of the FAST classifier on the labelled set of ``bench/classify_eval``.

The same evaluation as ``bench/classify_accuracy.py``: realistic documents of eight
types, plus documents of none of them, classified by rules written as a user would.
The assertions are on answers, not timing, and deterministic.
"""

from __future__ import annotations

import pytest

from bench.classify_accuracy import MIN_ACCURACY, Evaluation, evaluate, report
from docbatch.engines.classify import DEFAULT_CONFIDENCE_THRESHOLD, UNKNOWN

MIN_UNKNOWN_RATE = 0.75
"""Share of out-of-class documents that must come out ``unknown``."""
MAX_FALSE_UNKNOWN_RATE = 0.10
MIN_RECALL = 0.75
"""Every type must be found this often: a good average may not hide a failing type."""


@pytest.fixture(scope="module")
def evaluation() -> Evaluation:
    """One run over the whole set, shared by the assertions below."""
    return evaluate()


def test_accuracy_on_the_labelled_set(evaluation: Evaluation) -> None:
    assert len(evaluation.outcomes) >= 90, report(evaluation)
    assert evaluation.accuracy >= MIN_ACCURACY, report(evaluation)


def test_documents_of_no_type_mostly_come_out_unknown(evaluation: Evaluation) -> None:
    assert evaluation.unknown_rate >= MIN_UNKNOWN_RATE, report(evaluation)
    assert evaluation.false_unknown_rate <= MAX_FALSE_UNKNOWN_RATE, report(evaluation)


def test_every_type_is_recognised(evaluation: Evaluation) -> None:
    for type_, (_, recall, support) in evaluation.per_type().items():
        if support:
            assert recall >= MIN_RECALL, f"{type_}: recall {recall:.2f}\n{report(evaluation)}"


def test_answers_carry_confidence_and_runner_up(evaluation: Evaluation) -> None:
    for outcome in evaluation.outcomes:
        assert 0 <= outcome.confidence <= 1
        assert outcome.runner_up is not None, outcome.name
        if outcome.predicted == UNKNOWN:
            assert outcome.confidence < DEFAULT_CONFIDENCE_THRESHOLD
            assert outcome.runner_up["confidence"] == outcome.confidence
        else:
            assert outcome.confidence >= DEFAULT_CONFIDENCE_THRESHOLD
            assert outcome.runner_up["type"] != outcome.predicted
