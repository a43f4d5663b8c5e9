"""The offline answerer on docs shaped like real ones: code that completes a sentence,
text that must come back exactly as written, refusals that say why, follow-ups decided by
meaning, and the refusal floor each index measures for itself."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from ingest.runner import ingest
from kbcore.answering.citations import answer_is_its_quotes, normalize_markers, verify
from kbcore.answering.engine import ChatEngine, build_chat_engine
from kbcore.answering.extractive import _passages
from kbcore.answering.models import Answer, RefusalCode, Turn
from kbcore.answering.sources import Source
from kbcore.answering.support import specific_terms, unsupported_terms
from kbcore.embedding.onnx_minilm import OnnxMiniLM
from kbcore.retrieval import SectionHit
from kbcore.runtime import Runtime
from kbcore.schema import ChunkPayload
from tests.conftest import make_settings

SECURITY = """# Security

## Secret keys

The application signs its session cookies with a secret key.
To generate a secure random secret key, run this command:

```bash
openssl rand -hex 32
```

Then copy the output into the `SECRET_KEY` setting of an .env file, never into the code.

## Tokens

Tokens expire after 30 minutes by default.
Use `items[2]` to read the third scope of a token [2] when debugging.
"""

ROUTING = """# Routing

## Path parameters

Let's say you have a path operation with a path `/files/{file_path}`.
But you need `file_path` itself to contain a path, like `home/johndoe/myfile.txt`.
Declare the parameter with the `:path` convertor, as in `/files/{file_path:path}`, and it
matches the rest of the URL, slashes included.

## Query parameters

Query parameters are the key-value pairs after the `?` in a URL.
"""

PRICING = """# Hosting

## Running the server

Run the server with two workers on a small virtual machine.
The service keeps its index on the local disk.
"""


@pytest.fixture(scope="module")
def engine(embedder: OnnxMiniLM, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChatEngine]:
    tmp = tmp_path_factory.mktemp("docs")
    content = tmp / "docs"
    content.mkdir()
    for name, text in (("security.md", SECURITY), ("routing.md", ROUTING), ("hosting.md", PRICING)):
        (content / name).write_text(text)
    settings = make_settings(tmp, content_dir=content, canary_questions=0)
    runtime = Runtime.open(settings, scratch=True, embedder=embedder)
    report = ingest(runtime)
    assert report.switched and report.refusal_floor is not None
    yield build_chat_engine(runtime.retriever, settings)
    runtime.close()


def ask(engine: ChatEngine, question: str, history: list[Turn] | None = None) -> Answer:
    # A fresh thread: a browser test earlier in the session may leave an event loop set.
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, engine.aanswer(question, history or [])).result()


def test_code_that_completes_a_sentence_comes_with_it_verbatim(engine: ChatEngine) -> None:
    answer = ask(engine, "How do I generate a secure random secret key?")
    assert answer.grounded
    # The lead introduces the code, so the code comes with it, right after its marker.
    assert answer.answer.startswith("To generate a secure random secret key"), answer.answer
    assert "run this command: [1]\n```\nopenssl rand -hex 32\n```" in answer.answer
    quote = next(c.quote for c in answer.citations if "openssl" in c.quote)
    assert "run this command:\nopenssl rand -hex 32" in quote
    assert answer_is_its_quotes(answer.answer, answer.citations)


def test_answer_text_is_exactly_its_quotes(engine: ChatEngine) -> None:
    answer = ask(engine, "where should the secret key output go?")
    assert "into the SECRET_KEY setting of an .env file" in answer.answer  # not "an.env"
    tokens = ask(engine, "how long until a token expires and how do I read its scopes?")
    assert "items[2]" in tokens.answer and "token [2] when" in tokens.answer  # article text
    assert [c.id for c in tokens.citations] == list(range(1, len(tokens.citations) + 1))
    for result in (answer, tokens):
        assert answer_is_its_quotes(result.answer, result.citations), result.answer


def test_the_sentence_that_resolves_the_question_is_in_the_answer(engine: ChatEngine) -> None:
    answer = ask(engine, "How do I declare a route parameter that itself contains slashes?")
    assert ":path" in answer.answer, answer.answer


def test_refusals_say_why(engine: ChatEngine) -> None:
    off_topic = ask(engine, "What's a good hydration ratio for sourdough bread?")
    assert not off_topic.grounded and off_topic.refusal is not None
    assert off_topic.refusal.code is RefusalCode.LOW_SIMILARITY
    assert off_topic.refusal.score is not None and off_topic.refusal.floor is not None
    assert off_topic.refusal.score < off_topic.refusal.floor
    named = ask(engine, "How do I rotate secret keys stored in HashiCorp Vault?")
    assert named.refusal is not None and named.refusal.code is RefusalCode.UNSUPPORTED_TERM
    assert {"HashiCorp", "Vault"} & set(named.refusal.terms)
    price = ask(engine, "How much does running the server cost per month?")
    assert price.refusal is not None and "a price" in price.refusal.terms
    limit = ask(engine, "What is the maximum number of workers the server supports?")
    assert limit.refusal is not None and limit.refusal.code is RefusalCode.MISSING_VALUE
    body = limit.to_json("c")
    assert body["refusal"] == limit.refusal.to_json() and body["grounded"] is False


def test_ordinary_words_of_the_docs_are_not_names() -> None:
    assert specific_terms("How do middleware A and B run, and is JSON faster than the API?") == []
    assert specific_terms("Does --max-workers or orm_mode work with GPT-5 in 2024?") == [
        "--max-workers",
        "orm_mode",
        "GPT-5",
        "2024",
    ]
    assert specific_terms("sample only 10% of requests") == ["10%"]


def test_a_short_new_question_is_not_taken_for_a_follow_up(engine: ChatEngine) -> None:
    history = [
        Turn("user", "How do I generate a secure random secret key?"),
        Turn("assistant", "run this command: openssl rand -hex 32 [1]"),
    ]
    new = ask(engine, "what is the capital of France?", history)
    assert not new.grounded and new.query == "what is the capital of France?"
    follow = ask(engine, "and where does it go?", history)
    assert follow.query.startswith("How do I generate")
    assert follow.grounded and any(c.heading == "Secret keys" for c in follow.citations)


def test_each_index_measures_its_own_refusal_floor(engine: ChatEngine) -> None:
    store = engine.retriever.store
    version = store.serving()
    assert version is not None
    manifest = store.manifest(version)
    assert manifest is not None and manifest.refusal_floor is not None
    calibration = manifest.calibration
    assert calibration["floor"] == manifest.refusal_floor
    assert calibration["floor"] == min(calibration["off_topic_p95"], calibration["in_domain_p10"])
    assert 0.12 <= manifest.refusal_floor <= 0.5


def test_only_sentinel_markers_are_parsed() -> None:
    final, _ = verify("Read `arr[2]` first [1] and arr[3] too.", [], {})
    assert final == "Read `arr[2]` first [1] and arr[3] too."  # no sentinel: nothing touched


@pytest.mark.parametrize(
    ("written", "normalized"),
    [
        ("Costs $50 [1].", "Costs $50 [1]."),
        ("Costs $50[1].", "Costs $50 [1]."),
        ("Costs $50.[1][2]", "Costs $50. [1][2]"),
        ("Costs $50 [1, 2].", "Costs $50 [1][2]."),
        ("Costs $50 【1】.", "Costs $50 [1]."),
        ("Costs $50 [^2].", "Costs $50 [2]."),
        ("Costs $50 (source 3).", "Costs $50 [3]."),
        ("Costs $50 [Source: 1, 2].", "Costs $50 [1][2]."),
        ("Costs $50 [1-3].", "Costs $50 [1][2][3]."),
        ("Use `arr[2]` here [1].", "Use `arr[2]` here [1]."),
    ],
)
def test_marker_forms_real_models_write_are_understood(written: str, normalized: str) -> None:
    assert normalize_markers(written) == normalized


def _chunk(text: str, start: int, index: int) -> ChunkPayload:
    spans, position = [], 0
    for line in text.split("\n"):
        if line and not line.startswith(("{", "}", " ")):  # the code lines hold no sentence
            spans.append((position, position + len(line)))
        position += len(line) + 1
    return ChunkPayload(
        article="a", title="A", url="/a#hooks", anchor="hooks", heading="Hooks",
        heading_path="A > Hooks", level=2, kind="section", section_index=0, chunk_index=index,
        chunk_count=2, text=text, start=start, sentences=spans, tags=[], updated="2024-01-01",
        summary="", content_hash="", section_hash="", path="a.md", page_url="/a",
    )  # fmt: skip


def _source(chunks: list[ChunkPayload]) -> Source:
    """The section the chunks of ``_chunk`` belong to, retrieved first."""
    hit = SectionHit(
        article="a", title="A", url="/a#hooks", anchor="hooks", heading="Hooks",
        heading_path="A > Hooks", kind="section", path="a.md", page_url="/a", score=1.0,
        dense_score=1.0, sparse_score=None, chunks=chunks,
    )  # fmt: skip
    return Source(1, hit, chunks)


def test_a_run_across_two_chunks_keeps_the_code_each_sentence_introduces() -> None:
    first = "Install the hook runner:\nnpm install --save-dev hooks"
    second = 'Add the following to your package.json:\n{\n  "hooks": "format"\n}\nThen commit.'
    # The second chunk starts where the first one's text ends (plus the newline).
    chunks = [_chunk(first, 0, 0), _chunk(second, len(first) + 1, 1)]
    chunks[0] = chunks[0].model_copy(update={"sentences": [(0, 24)]})
    source = _source(chunks)
    run = source.sentences()
    assert [s.text for s in run] == [
        "Install the hook runner:",
        "Add the following to your package.json:",
        "Then commit.",
    ]
    passages = _passages(source, run)
    assert [p.quote for p in passages] == [
        "Install the hook runner:\nnpm install --save-dev hooks",
        second,
    ]
    assert passages[1].lines[1:4] == [("{", "code"), ('  "hooks": "format"', "code"), ("}", "code")]


def test_a_name_among_alternatives_is_not_missing_when_its_neighbour_is_found() -> None:
    docs = [
        _source([_chunk("Reasoning models such as DeepSeek-R1 need no step-by-step prompt.", 0, 0)])
    ]
    assert unsupported_terms("should I prompt o1 or DeepSeek R1 step by step?", docs) == []
    assert unsupported_terms("does R1/o1 need it?", docs) == []
    # not alternatives: each name is asked about
    assert unsupported_terms("should I prompt o1 and DeepSeek R1 step by step?", docs) == ["o1"]
    # both alternatives unknown, and the noun after them is not an alternative
    gpus = [_source([_chunk("Rent a GPU by the hour.", 0, 0)])]
    assert unsupported_terms("is an A100 or H100 GPU faster?", gpus) == ["A100", "H100"]
