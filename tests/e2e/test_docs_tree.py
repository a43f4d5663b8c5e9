"""A real site's docs tree in a real browser: the widget answers with the code a sentence
introduces (rendered as code), and the demo pages show generator syntax as the site does."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from ingest.runner import ingest
from kbcore.embedding.onnx_minilm import OnnxMiniLM
from kbcore.runtime import Runtime
from service.app import create_app
from tests.conftest import ROOT, make_settings
from tests.e2e.conftest import ANSWER, ARTIFACTS, ask, serve, wait_answers

pytestmark = pytest.mark.browser
MKDOCS = ROOT / "tests" / "fixtures" / "docs" / "mkdocs-site"
KEYS = """# Security

## Secret keys

To generate a secure random secret key, run this command:

```bash
openssl rand -hex 32
```

Then copy the output into the `SECRET_KEY` setting.
"""


@pytest.fixture(scope="module")
def docs_kb(embedder: OnnxMiniLM, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("docs-tree")
    docs = tmp / "docs"
    docs.mkdir()
    for path in (MKDOCS / "docs").rglob("*.md"):
        target = docs / path.relative_to(MKDOCS / "docs")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(path.read_text())
    (docs / "security.md").write_text(KEYS)
    settings = make_settings(tmp, content_dir=docs, docs_root=tmp, canary_questions=0)
    runtime = Runtime.open(settings, scratch=True, embedder=embedder)
    assert ingest(runtime).switched
    with serve(create_app(settings, runtime=runtime, sync_on_start=False)) as url:
        yield url
    runtime.close()


def test_widget_answer_carries_the_command_as_code(docs_kb: str, page: Page) -> None:
    page.goto(docs_kb + "/")
    page.locator("[data-kb-launcher]").click()
    ask(page, "How do I generate a secure random secret key?")
    wait_answers(page, 1)
    answer = page.locator(ANSWER).last
    code = answer.locator("pre.code")
    expect(code).to_have_count(1)
    expect(code).to_have_text("openssl rand -hex 32")
    assert "```" not in answer.inner_text()
    expect(answer.locator("sup.ref a").first).to_be_visible()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "widget-code-answer.png"))


def test_demo_page_shows_admonitions_tabs_and_no_generator_syntax(docs_kb: str, page: Page) -> None:
    page.goto(docs_kb + "/learn/index")
    article = page.locator("article")
    expect(article.locator(".admonition.note .admonition-title")).to_have_text("Python versions")
    expect(article.locator(".admonition.warning .admonition-title")).to_have_text("Breaking change")
    expect(article.locator(".tab-title").first).to_have_text("TOML")
    expect(article.locator("#install-widgets")).to_be_visible()
    text = article.inner_text()
    for syntax in ("!!!", "???", "///", '=== "', "--8<--", "{*", "{ #", "{{"):
        assert syntax not in text, syntax
    page.screenshot(path=str(ARTIFACTS / "demo-docs-page.png"), full_page=True)
    Path(ARTIFACTS).mkdir(exist_ok=True)
