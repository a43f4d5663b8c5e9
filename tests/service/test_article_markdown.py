"""An article's Markdown as its page reads (``read_markdown``, ``/learn/<slug>.md``,
``/llms-full.txt``, MCP ``get_article``): generator syntax resolved, includes spliced in,
every link absolute to the real site; and the token -> Markdown renderer on its own."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from markdown_it.rules_core import StateCore
from markdown_it.token import Token
from mcp import Client
from mcp_types import CallToolResult, TextContent

from ingest.markdown import build_parser
from ingest.runner import ingest
from kbcore.embedding.onnx_minilm import OnnxMiniLM
from kbcore.runtime import Runtime
from service.app import create_app
from service.mcp_server.server import build_mcp_server
from service.site.markdown import MarkdownNotFoundError, read_markdown
from service.site.markdown_render import PageLinks, render_markdown
from service.state import ServiceState
from tests.conftest import make_settings

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "docs"
MKDOCS = FIXTURES / "mkdocs-site"
DOCUSAURUS = FIXTURES / "docusaurus-site"
BASE = "https://kb.example.com"
MKDOCS_SITE = "https://docs.example.com"
DOCUSAURUS_SITE = "https://gadget.example.org"
# Generator syntax an editor's model must never see.
RAW = re.compile(
    r"!!!|\?\?\?|^:::|:::$|===|--8<--|///|\{\*|\{\{|\{ ?#|:material-|^import |^export |<Tabs"
    r"|<TabItem|<Shared|\]\[",
    re.M,
)


def ingested(tmp: Path, site: Path, site_url: str, embedder: OnnxMiniLM) -> Runtime:
    settings = make_settings(
        tmp,
        content_dir=site / "docs",
        docs_root=site,
        site_url=site_url,
        public_base_url=BASE,
        canary_questions=0,
    )
    runtime = Runtime.open(settings, scratch=True, embedder=embedder)
    assert ingest(runtime).switched
    return runtime


@pytest.fixture(scope="module")
def mkdocs(embedder: OnnxMiniLM, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runtime]:
    runtime = ingested(tmp_path_factory.mktemp("mkdocs"), MKDOCS, MKDOCS_SITE, embedder)
    yield runtime
    runtime.close()


@pytest.fixture(scope="module")
def docusaurus(embedder: OnnxMiniLM, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runtime]:
    runtime = ingested(tmp_path_factory.mktemp("docusaurus"), DOCUSAURUS, DOCUSAURUS_SITE, embedder)
    yield runtime
    runtime.close()


def state_of(runtime: Runtime) -> ServiceState:
    return ServiceState(settings=runtime.settings, runtime=runtime, ready=True)


def read(runtime: Runtime, slug: str, anchor: str = "") -> str:
    state = state_of(runtime)
    _, catalog = state.served_catalog()
    return read_markdown(
        state.site_content(),
        runtime.settings.content_dir,
        catalog[slug],
        anchor,
        catalog=catalog,
        base=BASE,
    ).markdown


def assert_mkdocs_index(markdown: str) -> None:
    assert RAW.search(markdown) is None, RAW.search(markdown)
    assert markdown.startswith("# Widget Docs\n\nWidgets turn raw sprockets into polished gadgets.")
    assert "> **Python versions**\n>\n> Widgets support Python 3.9 and newer." in markdown
    assert "> **Tip**\n>\n> Use a virtual environment" in markdown
    assert "> ```python\n> import widgets\n" in markdown  # code stays inside its admonition
    assert "**TOML**\n\nPut settings in `widgets.toml`" in markdown
    assert "> **Breaking change**\n>\n> Version 2 renamed `spin()` to `rotate()`." in markdown
    assert "Shared snippet text: widgets are thread-safe." in markdown  # the include
    assert '```python\nfrom widgets import Widget\n\nfactory = Widget(kind="gear")\n```' in markdown
    assert f"[the guide]({MKDOCS_SITE}/guide/usage/#rotate-a-widget)" in markdown
    assert "The `Widget` class and ellipsis both resolve." in markdown  # autorefs: text
    assert "## Install\n" in markdown and "## Configure\n" in markdown


def test_read_markdown_resolves_generator_syntax_and_links(mkdocs: Runtime) -> None:
    assert_mkdocs_index(read(mkdocs, "index"))
    usage = read(mkdocs, "guide/usage")
    assert usage.startswith("# Using widgets\n\n## Rotate a widget\n")
    assert "widgets.Widget" not in usage and "options:" not in usage  # the API stub
    assert "Raw HTML keeps its text." in usage and "<div" not in usage and "onclick" not in usage


def test_a_section_runs_to_the_next_heading_of_its_level(mkdocs: Runtime) -> None:
    section = read(mkdocs, "index", "configure")
    assert section.startswith("## Configure\n\n**TOML**\n")
    assert "> **Breaking change**" in section and "Shared snippet text" in section
    assert "## Example" not in section and "Python versions" not in section
    assert read(mkdocs, "index", "install-widgets").startswith("## Install\n")
    with pytest.raises(MarkdownNotFoundError, match="install-widgets"):
        read(mkdocs, "index", "install")


def test_docusaurus_page_loses_its_mdx_and_keeps_its_tabs_and_callouts(
    docusaurus: Runtime,
) -> None:
    markdown = read(docusaurus, "intro")
    assert RAW.search(markdown) is None, RAW.search(markdown)
    assert not markdown.startswith("---") and "sidebar_position" not in markdown
    assert markdown.startswith("Gadget formats your gadgets in one command.\n\n## Install Gadget\n")
    assert "**npm**\n\n```bash\nnpm install --save-dev gadget\n```" in markdown
    assert "**yarn**\n\n```bash\nyarn add --dev gadget\n```" in markdown
    assert "> **Pin the version**\n>\n> Pin an exact version" in markdown
    assert "> **Node support**\n>\n> Gadget needs Node.js 18 or newer." in markdown
    assert "Shared partial: Gadget never changes your code's meaning." in markdown  # <Shared />
    assert "comment nobody sees" not in markdown


def test_learn_markdown_and_llms_full_are_the_rendered_pages(mkdocs: Runtime) -> None:
    app = create_app(mkdocs.settings, runtime=mkdocs, sync_on_start=False)
    with TestClient(app) as http:
        # The demo page first: its links to demo pages must not leak into the Markdown.
        assert 'href="/learn/guide/usage#rotate-a-widget"' in http.get("/learn/index").text
        page = http.get("/learn/index.md")
        assert page.status_code == 200
        assert page.headers["content-type"] == "text/markdown; charset=utf-8"
        assert_mkdocs_index(page.text)
        full = http.get("/llms-full.txt").text
    entry = full.split("# Widget Docs\n\n", 1)[1].split("\n# ", 1)[0]
    assert entry.startswith(f"Source: {MKDOCS_SITE}/\n\nWidgets turn raw sprockets")
    assert_mkdocs_index(f"# Widget Docs\n\n{entry.split(chr(10) * 2, 1)[1]}")
    assert f"# Using widgets\n\nSource: {MKDOCS_SITE}/guide/usage/\n\n## Rotate" in full
    assert RAW.search(full) is None


def call(runtime: Runtime, tool: str, **arguments: Any) -> CallToolResult:
    server = build_mcp_server(state_of(runtime))

    async def run() -> CallToolResult:
        async with Client(server) as client:
            return await client.call_tool(tool, arguments)

    # In a thread of its own: Playwright's sync API keeps an event loop running in the main
    # thread once a browser test has run in this session.
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, run()).result()


def test_mcp_get_article_returns_the_rendered_page(mkdocs: Runtime, docusaurus: Runtime) -> None:
    result = call(mkdocs, "get_article", slug="index")
    assert not result.is_error and result.structured_content is not None
    assert_mkdocs_index(result.structured_content["markdown"])
    text = "\n".join(c.text for c in result.content if isinstance(c, TextContent))
    assert text.startswith(f"Source: {MKDOCS_SITE}/\n\n# Widget Docs\n")

    section = call(mkdocs, "get_article", slug="index", anchor="install-widgets")
    body = section.structured_content
    assert body is not None and body["url"] == f"{MKDOCS_SITE}/#install-widgets"
    assert body["markdown"].startswith("## Install\n") and "> **Tip**" in body["markdown"]
    assert "## Configure" not in body["markdown"] and "!!!" not in body["markdown"]

    intro = call(docusaurus, "get_article", slug="intro").structured_content
    assert intro is not None and "> **Pin the version**" in intro["markdown"]
    assert RAW.search(intro["markdown"]) is None


def test_a_page_the_renderer_cannot_read_falls_back_to_its_indexed_text(
    mkdocs: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(tokens: object, links: object) -> str:
        raise AssertionError("a token no rule foresaw")

    monkeypatch.setattr("service.site.markdown.render_markdown", broken)
    section = read(mkdocs, "index", "configure")
    assert section.startswith("## Configure\n\nPut settings in widgets.toml under")
    assert "## Example" not in section


# --- the renderer on its own -------------------------------------------------------------

LINKS = PageLinks(
    url="https://site.test/guide/page/",
    rel="guide/page.md",
    pages={"guide/other.md": "https://site.test/guide/other/", "index.md": "https://site.test/"},
    base="https://site.test/guide/page/",
    assets="https://site.test/guide/",
)
GFM = """> [!WARNING]
> Mind the *gap*.

| Name | Size |
|:--|--:|
| a \\| b | `1` |
| <kbd>Ctrl</kbd> | |

- [ ] open
- [x] done

1. one
2. two

Term
: Its definition.

See [other](other.md#setup), [home](../index.md), [here](#top), [up](../x/), [root](/y),
[gone](missing.md), [mail](mailto:a@b.c), <https://auto.test> and
![a chart](img/chart.png "Chart").[^1] ~~old~~ 2 * 3 <br> next

```js title="app.js" {2}
let a = 1
```

<div class="card"><p>Card &amp; text</p></div>

[^1]: A note.
"""


def rendered(text: str, links: PageLinks = LINKS) -> str:
    return render_markdown(build_parser().parse(text, {}), links)


def test_gfm_renders_as_gfm_with_absolute_links() -> None:
    out = rendered(GFM)
    assert out.startswith("> **Warning**\n>\n> Mind the *gap*.\n\n| Name | Size |\n|:--|--:|\n")
    assert "| a \\| b | `1` |\n| Ctrl | |" in out
    assert "- [ ] open\n- [x] done" in out and "1. one\n2. two" in out
    assert "**Term**\n\nIts definition." in out
    assert "[other](https://site.test/guide/other/#setup)" in out
    assert "[home](https://site.test/)" in out
    assert "[here](https://site.test/guide/page/#top)" in out
    assert "[up](https://site.test/guide/x/)" in out and "[root](https://site.test/y)" in out
    assert "\ngone, [mail](mailto:a@b.c), <https://auto.test> and" in out  # unknown page: text
    assert '![a chart](https://site.test/guide/img/chart.png "Chart")' in out
    assert "[^1] ~~old~~ 2 * 3 \\\nnext" in out
    assert "**app.js**\n\n```js\nlet a = 1\n```" in out
    assert "Card & text" in out and "<div" not in out
    assert out.endswith("[^1]: A note.")
    # What comes out reads back as the same document (links aside).
    again = rendered(out)
    assert again == out


def test_images_without_a_known_site_leave_their_alt_text() -> None:
    demo = PageLinks(
        url="https://kb.test/learn/p", rel="p.md", pages={}, base="https://kb.test/learn/p"
    )
    out = rendered("![a *chart*](chart.png) and [s](/learn/s)![](x.png)\n", demo)
    assert out == "a chart and [s](https://kb.test/learn/s)"


def _widgets(state: StateCore) -> None:
    """A generator's own tokens: a titled block, a leaf with text, a hidden leaf."""
    opening = Token("widget_open", "div", 1, block=True, meta={"label": "From a plugin"})
    leaf = Token("widget_text", "", 0, block=True, content="Leaf *text*.")
    empty = Token("widget_marker", "", 0, block=True)
    closing = Token("widget_close", "div", -1, block=True)
    state.tokens = [opening, *state.tokens, leaf, closing, empty]


def test_unknown_tokens_render_by_the_generic_rule() -> None:
    md = build_parser()
    md.core.ruler.push("widgets", _widgets)
    out = render_markdown(md.parse("Inside the widget.\n", {}), LINKS)
    assert out == "**From a plugin**\n\nInside the widget.\n\nLeaf \\*text\\*."


def test_unbalanced_tokens_still_render() -> None:
    tokens = build_parser().parse("# A\n\nText.\n", {})
    stray_close = Token("jsx_close", "div", -1)
    left_open = Token("jsx_open", "div", 1, block=True)
    out = render_markdown([stray_close, *tokens, left_open, *tokens[3:6]], LINKS)
    assert out == "# A\n\nText.\n\nText."
