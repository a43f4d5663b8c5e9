"""The exact checks of claim verification (kbcore/answering/claims.py) on hand-made
pairs: numbers, units, code names and negation rule a source out whatever the
similarity; a faithful claim passes with the real embedder."""

from __future__ import annotations

import pytest

from ingest.sentences import SentenceSplitter
from kbcore.answering.claims import ClaimVerifier, SourceText, code_names, numbers
from kbcore.embedding.onnx_minilm import OnnxMiniLM
from kbcore.sparse import BM25Encoder

SOURCE = (
    "A fine-tuning project typically costs $150-2,500 in training, because each run "
    "costs $50-500 and you will usually need 3-5 iterations. Set `printWidth` to 100 "
    "to wrap lines later. The cache is limited to 500 MB. Streaming is not supported "
    "with the batch API."
)


@pytest.fixture(scope="module")
def verifier(embedder: OnnxMiniLM) -> ClaimVerifier:
    return ClaimVerifier(BM25Encoder(), embedder.embed_documents)


def source() -> SourceText:
    spans = SentenceSplitter().spans(SOURCE)
    return SourceText([SOURCE[a:b] for a, b in spans], text=SOURCE)


def test_numbers_and_units_are_read_as_written() -> None:
    assert numbers("It costs $1,500 for 3.5 GB.") == [("1500", "$"), ("3.5", "gb")]
    assert numbers("between 50-500 tokens") == [("50", ""), ("500", "token")]


def test_code_names_are_what_a_claim_commits_to() -> None:
    names = code_names("Set `printWidth` or print_width, run --host, use a.b.c and x=1.")
    assert {"printWidth", "print_width", "--host", "a.b.c", "x=1"} <= names
    assert "Set" not in names and "run" not in names


@pytest.mark.parametrize(
    ("claim", "supported"),
    [
        ("Each training run costs $50-500.", True),
        ("You will usually need between 3 and 5 iterations.", True),
        ("Each training run costs $50-5000.", False),  # a changed number
        ("The cache is limited to 500 KB.", False),  # a changed unit
        ("Set `lineWidth` to 100 to wrap lines later.", False),  # a name not in the source
        ("Streaming is supported with the batch API.", False),  # negation flipped
        ("Streaming does not work with the batch API.", True),
    ],
)
def test_exact_facts_decide_before_similarity(
    verifier: ClaimVerifier, claim: str, supported: bool
) -> None:
    verdict = verifier.check(claim, [source()], [0])
    assert verdict.supported is supported, verdict
    if not supported and verdict.reason:
        assert verdict.reason


def test_the_supporting_sentence_is_found_in_another_source(verifier: ClaimVerifier) -> None:
    other = SourceText(["Prettier formats JavaScript and CSS."])
    verdict = verifier.check("The cache is limited to 500 MB.", [other, source()], [0])
    assert verdict.supported and verdict.source == 1 and verdict.sentence == 2


def test_a_lead_in_states_nothing_checkable(verifier: ClaimVerifier) -> None:
    assert not verifier.checkable("Here is how:")
    assert verifier.checkable("Set printWidth.")
    # What SmolLM2 wrote through llama.cpp's server: sentences about the answer itself.
    assert not verifier.checkable("The article provides a detailed explanation of LoRA.")
    assert not verifier.checkable("The answer to this question is that it costs more.")
    assert verifier.checkable("The docs suggest installing MyST with mamba.")
