"""The FAST classifier on realistic documents and rules written as a user would."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from docbatch.engines.base import EngineRequest, EngineResult
from docbatch.engines.classify import (
    DEFAULT_CONFIDENCE_THRESHOLD,
    UNKNOWN,
    Rule,
    classify_document,
    classify_text,
)
from docbatch.errors import ConfigError, DocumentError
from tests.engines.pdf_factory import make_pdf

REPO_ROOT = Path(__file__).resolve().parents[2]
CORPUS = REPO_ROOT.parent / "shared" / "corpus" / "documents"

RULES = [
    {
        "type": "invoice",
        "description": "A bill requesting payment with line items, totals, invoice number "
        "and due date",
    },
    {
        "type": "resume",
        "description": "A CV listing a person's work experience, education and skills",
    },
    {
        "type": "scientific paper",
        "description": "A research article with abstract, methods, results and references",
    },
    {
        "type": "contract",
        "description": "A legal agreement between parties with terms, obligations, "
        "signatures and governing law",
    },
]

INVOICE = """\
ACME Office Supplies Ltd.
12 Harbour Road, Bristol BS1 4AB

INVOICE

Invoice No: INV-2024-0187
Invoice date: 14 March 2024
Due date: 13 April 2024
Bill to: Northwind Traders, 8 King Street, Leeds LS1 2HQ

Description                     Qty   Unit price   Amount
A4 copier paper (box of 5)       10       £21.50    £215.00
Toner cartridge HP 305A           4       £64.00    £256.00

Subtotal                                           £471.00
VAT 20%                                             £94.20
Total due                                          £565.20

Payment terms: 30 days. Please pay by bank transfer quoting the invoice number.
"""

RESUME = """\
Jane Doe
Senior Data Engineer
jane.doe@example.com | +44 7700 900123 | London

Profile
Data engineer with eight years of experience building batch and streaming pipelines.

Work Experience
Lead Data Engineer, Fintech Co., London, 2020 to present
- Designed a Kafka and Spark platform processing 2 billion events a day.
Data Engineer, RetailCorp, Manchester, 2016 to 2020
- Built the company's first data warehouse.

Education
MSc Computer Science, University of Edinburgh, 2016

Skills
Python, SQL, Spark, Kafka, Airflow, Terraform, AWS
"""

PAPER = """\
Sparse Retrieval with Learned Term Weights for Open-Domain Question Answering

Abstract
We study learned term weighting for sparse retrieval. We propose a method that predicts
term importance from contextual embeddings. Our results show a 7% gain in recall over BM25.

1 Introduction
Open-domain question answering requires retrieving passages from a large corpus [3, 7].

2 Methods
We fine-tune an encoder to predict a weight for every token, with contrastive training.

3 Results
On Natural Questions our approach reaches 81.2 top-20 accuracy.

References
[1] Robertson, S. and Zaragoza, H. The probabilistic relevance framework: BM25. 2009.
"""

CONTRACT = """\
SERVICES AGREEMENT

This Services Agreement is entered into as of 1 May 2024 by and between Blue River
Consulting LLC ("Provider") and Harbor Foods Inc. ("Client") (together the "Parties").

1. Services. Provider shall perform the consulting services described in Exhibit A.
2. Term. This Agreement continues for twelve (12) months unless terminated earlier.
3. Obligations of the Client. Client shall pay the fees within thirty (30) days.
4. Governing Law. This Agreement is governed by the laws of the State of New York.

IN WITNESS WHEREOF, the Parties have executed this Agreement.
Signature: ______________________        Signature: ______________________
"""

RECIPE = """\
Grandma's Apple Crumble

Serves 6. Preparation 20 minutes, baking 40 minutes.

Ingredients: 6 Bramley apples, 100 g brown sugar, 1 tsp cinnamon, 150 g plain flour,
100 g cold butter, 50 g rolled oats.

Method
Heat the oven to 180C. Toss the apples with half the sugar and the cinnamon. Rub the
butter into the flour, stir in the oats and scatter over the fruit. Bake until golden.
"""


def classify(path: Path, **config: Any) -> EngineResult:
    """Run the classify engine on ``path``; ``config`` is merged over the default rules."""
    return classify_document(
        EngineRequest(
            path=str(path),
            file_name=path.name,
            job_type="classify",
            config={"rules": RULES, "mode": "FAST", **config},
        )
    )


def write(tmp_path: Path, name: str, text: str) -> Path:
    """Write ``text`` to a file in ``tmp_path``."""
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (INVOICE, "invoice"),
        (RESUME, "resume"),
        (PAPER, "scientific paper"),
        (CONTRACT, "contract"),
    ],
    ids=["invoice", "resume", "paper", "contract"],
)
def test_realistic_document_gets_its_type_with_a_runner_up(
    tmp_path: Path, text: str, expected: str
) -> None:
    result = classify(write(tmp_path, "document.txt", text))
    output = json.loads(result.content)
    assert output["type"] == expected
    assert output["confidence"] >= 0.4
    assert output["runner_up"] is not None
    assert output["runner_up"]["type"] != expected
    assert output["runner_up"]["confidence"] < output["confidence"]
    assert set(output["scores"]) == {rule["type"] for rule in RULES}
    assert output["scores"][expected] == max(output["scores"].values())
    assert output["reasoning"].startswith(f"{expected}: matched ")
    assert result.content_type == "application/json"
    assert result.extension == "json"
    assert result.metadata["type"] == expected
    assert result.metadata["confidence"] == output["confidence"]
    assert result.metadata["runner_up"] == output["runner_up"]
    assert result.metadata["mode"] == "FAST"
    assert result.metadata["not_applied"] == []


def test_document_matching_no_rule_is_unknown(tmp_path: Path) -> None:
    output = json.loads(classify(write(tmp_path, "recipe.md", RECIPE)).content)
    assert output["type"] == UNKNOWN
    assert output["confidence"] < DEFAULT_CONFIDENCE_THRESHOLD
    # The closest rule is still reported, so a user can see how near it came.
    assert output["runner_up"]["type"] in {rule["type"] for rule in RULES}
    assert output["runner_up"]["confidence"] == output["confidence"]
    assert output["reasoning"].startswith(
        f"no rule reached confidence {DEFAULT_CONFIDENCE_THRESHOLD:g}; closest "
    )


def test_confidence_threshold_from_the_config_decides_unknown(tmp_path: Path) -> None:
    path = write(tmp_path, "invoice.txt", INVOICE)
    default = classify(path)
    confidence = default.metadata["confidence"]
    assert default.metadata["type"] == "invoice"
    assert default.metadata["confidence_threshold"] == DEFAULT_CONFIDENCE_THRESHOLD

    just_above = classify(path, confidence_threshold=min(1.0, confidence + 0.001))
    output = json.loads(just_above.content)
    assert output["type"] == UNKNOWN
    # The confidence is the best type's either way; only the decision changes.
    assert output["confidence"] == confidence
    assert output["runner_up"] == {"type": "invoice", "confidence": confidence}
    assert output["confidence_threshold"] == min(1.0, confidence + 0.001)
    assert output["reasoning"].startswith("no rule reached confidence ")

    at_confidence = classify(path, confidence_threshold=confidence)
    assert at_confidence.metadata["type"] == "invoice"
    assert at_confidence.metadata["runner_up"]["type"] != "invoice"


@pytest.mark.parametrize(("threshold", "expected"), [(0, "scientific paper"), (1, UNKNOWN)])
def test_thresholds_zero_and_one_are_the_extremes(
    tmp_path: Path, threshold: int, expected: str
) -> None:
    # 0 takes any best match, even the recipe's; no confidence reaches 1 ("none of the
    # types" always keeps some probability), so 1 makes everything unknown.
    path = write(tmp_path, "recipe.md", RECIPE)
    assert classify(path, confidence_threshold=threshold).metadata["type"] == expected
    paper = write(tmp_path, "paper.txt", PAPER)
    expected_paper = UNKNOWN if threshold == 1 else "scientific paper"
    assert classify(paper, confidence_threshold=threshold).metadata["type"] == expected_paper


def test_missing_or_null_threshold_is_the_default(tmp_path: Path) -> None:
    path = write(tmp_path, "invoice.txt", INVOICE)
    for result in (classify(path), classify(path, confidence_threshold=None)):
        assert result.metadata["confidence_threshold"] == DEFAULT_CONFIDENCE_THRESHOLD
        assert json.loads(result.content)["confidence_threshold"] == DEFAULT_CONFIDENCE_THRESHOLD


@pytest.mark.parametrize("threshold", [-0.1, 1.5, True, "0.5", [0.5]])
def test_invalid_confidence_threshold_is_a_config_error(tmp_path: Path, threshold: object) -> None:
    path = write(tmp_path, "invoice.txt", INVOICE)
    with pytest.raises(ConfigError, match="confidence_threshold") as failure:
        classify(path, confidence_threshold=threshold)
    assert failure.value.field == "confidence_threshold"


def test_metadata_is_the_decision_in_brief(tmp_path: Path) -> None:
    result = classify(write(tmp_path, "contract.txt", CONTRACT))
    output = json.loads(result.content)
    assert result.metadata == {
        "type": "contract",
        "confidence": output["confidence"],
        "runner_up": output["runner_up"],
        "confidence_threshold": DEFAULT_CONFIDENCE_THRESHOLD,
        "mode": "FAST",
        "source_format": "txt",
        "characters": result.metadata["characters"],
        "not_applied": [],
    }
    assert result.metadata["characters"] > 0
    assert set(output) == {
        "type",
        "confidence",
        "runner_up",
        "scores",
        "confidence_threshold",
        "reasoning",
    }
    assert 0 < output["confidence"] <= 1
    assert all(0 <= score <= 1 for score in output["scores"].values())


def test_runner_up_is_the_second_type_and_confidences_share_one_budget() -> None:
    result = classify_text(RESUME, [Rule(r["type"], r["description"]) for r in RULES])
    assert result.type == "resume"
    assert result.runner_up is result.candidates[1]
    assert result.runner_up.type != "resume"
    assert [c.confidence for c in result.candidates] == sorted(
        (c.confidence for c in result.candidates), reverse=True
    )
    # The confidences are one softmax with "none of the types": they never add up to 1.
    assert sum(c.confidence for c in result.candidates) < 1


def test_multimodal_mode_is_classified_fast_and_says_so(tmp_path: Path) -> None:
    result = classify(write(tmp_path, "invoice.txt", INVOICE), mode="MULTIMODAL")
    assert result.metadata["type"] == "invoice"
    assert result.metadata["mode"] == "FAST"
    assert result.metadata["not_applied"] == ["mode=MULTIMODAL"]


def test_real_research_paper_from_the_corpus_is_a_scientific_paper() -> None:
    result = classify(CORPUS / "layout-parser-paper-fast.pdf")
    assert result.metadata["type"] == "scientific paper"


def test_real_email_is_unknown_among_rules_that_do_not_describe_it() -> None:
    assert classify(CORPUS / "fake-email.eml").metadata["type"] == UNKNOWN


def test_target_pages_of_the_parsing_configuration_choose_what_is_read(tmp_path: Path) -> None:
    pdf = tmp_path / "bundle.pdf"
    pdf.write_bytes(make_pdf([INVOICE.replace("£", "GBP "), RESUME]))
    first = classify(pdf, parsing_configuration={"target_pages": [0]})
    second = classify(pdf, parsing_configuration={"target_pages": [1]})
    capped = classify(pdf, parsing_configuration={"max_pages": 1})
    assert first.metadata["type"] == "invoice"
    assert second.metadata["type"] == "resume"
    assert capped.metadata["type"] == "invoice"


@pytest.mark.skipif(shutil.which("tesseract") is None, reason="needs Tesseract")
def test_scanned_documents_are_classified_from_their_ocr_text() -> None:
    result = classify(CORPUS / "loremipsum-flat.pdf")
    assert result.metadata["type"] in {"unknown", *[rule["type"] for rule in RULES]}
    assert result.metadata["characters"] > 100


def test_document_without_any_text_fails_like_parse(tmp_path: Path) -> None:
    blank = tmp_path / "blank.txt"
    blank.write_text("   \n\t  ")
    with pytest.raises(DocumentError, match="empty document"):
        classify(blank)


def test_config_without_rules_is_a_config_error(tmp_path: Path) -> None:
    path = write(tmp_path, "invoice.txt", INVOICE)
    with pytest.raises(ConfigError, match="rules"):
        classify_document(
            EngineRequest(path=str(path), file_name=path.name, job_type="classify", config={})
        )


def test_word_forms_meet_through_stemming() -> None:
    rules = [
        Rule("invoice", "A bill for goods delivered, requesting payment"),
        Rule("meeting minutes", "Notes of a meeting listing attendees and decisions"),
    ]
    text = "We invoiced the client twice; both invoices await payment for the delivered goods."
    result = classify_text(text, rules)
    assert result.type == "invoice"
    assert ("invoice", 2) in result.candidates[0].matched


def test_two_rules_for_one_type_count_as_one_type() -> None:
    rules = [
        Rule("invoice", "A bill requesting payment with totals and a due date"),
        Rule("invoice", "A VAT invoice with a tax registration number and net amounts"),
        Rule("resume", "A CV listing work experience, education and skills"),
    ]
    result = classify_text(INVOICE, rules)
    assert result.type == "invoice"
    assert [c.type for c in result.candidates] == ["invoice", "resume"]


def test_single_rule_has_no_runner_up() -> None:
    result = classify_text(INVOICE, [Rule("invoice", "A bill requesting payment")])
    assert result.type == "invoice"
    assert result.runner_up is None
    assert result.to_json()["runner_up"] is None


def test_cues_find_what_documents_say_instead_of_the_rule_words() -> None:
    # Neither text repeats its rule's words: headers, greeting and sign-off make an
    # email, blank fields and checkboxes a form.
    rules = [
        Rule("email", "An email message with sender, recipients, a greeting and a sign-off"),
        Rule("form", "A form to fill in, with blank fields, checkboxes and a signature line"),
    ]
    email = (
        "From: Ana Ruiz <ana@example.org>\nTo: Team <team@example.org>\n"
        "Subject: Friday\n\nHi all,\n\nLunch is moved to 1pm.\n\nCheers,\nAna\n"
    )
    form = (
        "Name: ____________  Phone: ____________\n[ ] Member  [ ] Guest\n"
        "Signature: ______________  Date: ________\n"
    )
    assert classify_text(email, rules).type == "email"
    assert classify_text(form, rules).type == "form"


def test_alternatives_in_a_rule_ask_for_either() -> None:
    text = "Q3 quarterly results: revenue rose 8% and operating profit 12% in the quarter."
    either = classify_text(text, [Rule("report", "An annual or quarterly report with revenue")])
    both = classify_text(text, [Rule("report", "An annual and quarterly report with revenue")])
    assert either.candidates[0].score > both.candidates[0].score


def test_naming_the_type_helps_and_not_naming_it_costs_nothing() -> None:
    description = "Work experience, education and skills"
    body = "Experience: nurse 2015-2020. Education: BSc Nursing. Skills: triage."
    unnamed = classify_text(body, [Rule("resume", description)]).candidates[0].score
    named = classify_text("CURRICULUM VITAE\n" + body, [Rule("resume", description)])
    # A one-letter type has no words: its score is the description's coverage alone.
    coverage = classify_text(body, [Rule("x", description)]).candidates[0].score
    assert named.candidates[0].score > unnamed >= coverage > 0
    assert "resume" in {label for label, _ in named.candidates[0].matched}


def test_empty_text_is_unknown() -> None:
    result = classify_text("", [Rule("invoice", "A bill requesting payment")])
    assert result.type == UNKNOWN
    assert result.candidates[0].score == 0
