"""The two real docs trees in eval/corpora/, indexed untouched into a real Qdrant index:
every file indexed or reported, no generator syntax anywhere in the index, anchors as the
published sites have them."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from ingest.report import IngestReport
from ingest.runner import ingest
from kbcore.embedding.onnx_minilm import OnnxMiniLM
from kbcore.runtime import Runtime
from tests.conftest import ROOT, make_settings

CORPORA = ROOT / "eval" / "corpora"
FORBIDDEN = re.compile(r"\{ ?#|///|!!!|:::|\{\*|--8<--|<div|\?\?\? |=== \"|\{\{")
# Anchors as the published pages have them (docs.pydantic.dev, prettier.io).
PUBLISHED_ANCHORS = {
    "pydantic-docs": {
        ("why", "type-hints"),
        ("why", "strict-lax"),
        ("concepts/json_schema", "configuring-the-jsonschemamode"),
        ("concepts/json_schema", "using-json_schema_extra"),
        ("concepts/models", "basic-model-usage"),
        ("errors/usage_errors", "decorator-missing-field"),
    },
    "prettier-docs": {
        ("cli", "--check"),
        ("cli", "--find-config-path-and---config"),
        ("options", "print-width"),
        ("options", "experimental-ternaries"),
    },
}

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", params=sorted(PUBLISHED_ANCHORS))
def indexed(
    request: pytest.FixtureRequest, embedder: OnnxMiniLM, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Runtime, IngestReport]]:
    name: str = request.param
    settings = make_settings(
        tmp_path_factory.mktemp(name), content_dir=CORPORA / name, canary_questions=0
    )
    runtime = Runtime.open(settings, scratch=True, embedder=embedder)
    yield name, runtime, ingest(runtime)
    runtime.close()


def _files(name: str) -> set[str]:
    return {str(p.relative_to(CORPORA / name)) for p in (CORPORA / name).rglob("*.md")}


def test_every_file_is_indexed_or_reported_with_its_reason(
    indexed: tuple[str, Runtime, IngestReport],
) -> None:
    name, runtime, report = indexed
    assert report.switched and report.skipped == []
    version = runtime.store.serving()
    assert version is not None
    paths = {str(p["path"]) for _, p in runtime.store.scroll(version, ["path"])}
    empty = {w.path for w in report.warnings if w.message == "no text to index on this page"}
    assert paths | empty == _files(name)  # a page with no text (an API stub) is reported
    assert all(p.startswith("api/") for p in empty)


def test_no_generator_syntax_anywhere_in_the_index(
    indexed: tuple[str, Runtime, IngestReport],
) -> None:
    _, runtime, _ = indexed
    version = runtime.store.serving()
    assert version is not None
    fields = ["title", "heading", "heading_path", "anchor", "text", "sentences", "summary"]
    leaks = []
    for _, payload in runtime.store.scroll(version, fields):
        text = str(payload["text"])
        quotable = [text[a:b] for a, b in payload["sentences"]]  # prose, not code
        for value in [payload[k] for k in ("title", "heading", "anchor", "summary")] + quotable:
            if FORBIDDEN.search(str(value)):
                leaks.append(str(value)[:120])
    assert leaks == []


def test_anchors_match_the_published_site(indexed: tuple[str, Runtime, IngestReport]) -> None:
    name, runtime, _ = indexed
    version = runtime.store.serving()
    assert version is not None
    anchors = {
        (str(p["article"]), str(p["anchor"]))
        for _, p in runtime.store.scroll(version, ["article", "anchor"])
    }
    assert PUBLISHED_ANCHORS[name] <= anchors


def test_same_file_names_in_different_folders_are_distinct_articles(
    indexed: tuple[str, Runtime, IngestReport],
) -> None:
    name, runtime, _ = indexed
    if name != "pydantic-docs":
        pytest.skip("only the pydantic tree reuses file names")
    version = runtime.store.serving()
    assert version is not None
    articles = {str(p["article"]) for _, p in runtime.store.scroll(version, ["article"])}
    assert {"concepts/fields", "concepts/types", "concepts/json_schema"} <= articles
