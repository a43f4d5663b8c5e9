"""The MCP server through the SDK's in-process client: tools (listed, annotated, called),
structured outputs with verified citations, article Markdown, resources and errors."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import pytest
from mcp import Client, MCPError
from mcp.server.mcpserver import MCPServer
from mcp_types import CallToolResult, TextContent

from ingest.articles import load_content
from kbcore.catalog import ArticleInfo
from kbcore.runtime import Runtime
from service.mcp_server.server import build_mcp_server
from service.site.content import SiteContent
from service.site.markdown import MarkdownNotFoundError, read_markdown
from service.state import ServiceState
from tests.conftest import CONTENT, make_settings

T = TypeVar("T")
TOOLS = {"search_docs", "ask", "get_article", "list_articles"}
MARKER = re.compile(r"\[(\d+)\]")
COST = "fine-tuning-cost"
ITERATIONS = "how-many-training-iterations-should-you-budget-for"


@pytest.fixture(scope="module")
def state(content_runtime: Runtime, tmp_path_factory: pytest.TempPathFactory) -> ServiceState:
    settings = make_settings(tmp_path_factory.mktemp("mcp"), public_base_url="https://kb.test")
    return ServiceState(settings=settings, runtime=content_runtime, ready=True)


@pytest.fixture(scope="module")
def server(state: ServiceState) -> MCPServer:
    return build_mcp_server(state)


def with_client(server: MCPServer, work: Callable[[Client], Awaitable[T]]) -> T:
    async def run() -> T:
        async with Client(server) as client:
            return await work(client)

    # In a thread of its own: Playwright's sync API keeps an event loop running in the main
    # thread once a browser test has run in this session.
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, run()).result()


def call(server: MCPServer, tool: str, **arguments: Any) -> CallToolResult:
    return with_client(server, lambda client: client.call_tool(tool, arguments))


def text_of(result: CallToolResult) -> str:
    return "\n".join(c.text for c in result.content if isinstance(c, TextContent))


@pytest.fixture(scope="module")
def section_texts() -> dict[tuple[str, str], str]:
    return {(a.slug, s.anchor): s.text for a in load_content(CONTENT).articles for s in a.sections}


def source_body(slug: str) -> str:
    """The article's file without its front matter and with its links absolute, read
    independently of the service (content/ is plain Markdown: it reads back as written)."""
    text = (CONTENT / f"{slug}.md").read_text().replace("](/learn/", "](https://kb.test/learn/")
    return text.split("\n---\n", 1)[1].strip("\n") + "\n"


def test_tools_are_listed_read_only_with_typed_input_and_structured_output(
    server: MCPServer,
) -> None:
    listed = with_client(server, lambda client: client.list_tools())
    tools = {tool.name: tool for tool in listed.tools}
    assert set(tools) == TOOLS
    for tool in tools.values():
        assert tool.annotations is not None
        assert tool.annotations.read_only_hint is True
        assert tool.annotations.destructive_hint is False
        assert tool.output_schema is not None and tool.output_schema["type"] == "object"
        assert tool.description
    search = tools["search_docs"].input_schema
    assert search["required"] == ["query"]
    assert search["properties"]["k"]["maximum"] == 20 and search["properties"]["k"]["minimum"] == 1
    assert set(tools["ask"].input_schema["properties"]) == {"question", "history"}
    assert set(tools["get_article"].input_schema["properties"]) == {"slug", "anchor"}
    assert "citations" in tools["ask"].output_schema["properties"]


def test_instructions_tell_the_model_to_cite_the_urls(server: MCPServer) -> None:
    async def read(client: Client) -> str | None:
        return client.instructions

    instructions = with_client(server, read)
    assert instructions is not None
    assert "cite those URLs" in instructions and "grounded" in instructions


def test_ask_returns_verified_quotes_with_absolute_section_urls(
    server: MCPServer, section_texts: dict[tuple[str, str], str]
) -> None:
    result = call(server, "ask", question="How much does fine-tuning cost?")
    assert not result.is_error
    body = result.structured_content
    assert body is not None and body["grounded"] is True and body["refusal"] is None
    assert body["citations"] and body["index_version"]
    marked = {c["id"] for c in body["citations"] if c["in_answer"]}
    assert {int(n) for n in MARKER.findall(body["answer"])} == marked
    for citation in body["citations"]:
        assert citation["quote"] in section_texts[(citation["article"], citation["anchor"])]
        expected = f"https://kb.test/learn/{citation['article']}#{citation['anchor']}"
        assert citation["url"] == expected
        assert citation["url"] in text_of(result) and citation["quote"] in text_of(result)
    assert any(c["article"] == COST for c in body["citations"])


def test_ask_follow_up_uses_the_history(server: MCPServer) -> None:
    first = call(server, "ask", question="How much does fine-tuning cost?")
    assert first.structured_content is not None
    history = [
        {"role": "user", "content": "How much does fine-tuning cost?"},
        {"role": "assistant", "content": first.structured_content["answer"]},
    ]
    result = call(server, "ask", question="and how many training runs?", history=history)
    body = result.structured_content
    assert body is not None and body["grounded"], text_of(result)
    assert any(c["article"] == COST for c in body["citations"])


def test_ask_refuses_off_topic_questions_with_a_reason_and_suggestions(server: MCPServer) -> None:
    result = call(server, "ask", question="What is the capital of Australia?")
    assert not result.is_error
    body = result.structured_content
    assert body is not None and body["grounded"] is False and body["citations"] == []
    assert body["refusal"]["code"] in {"low_similarity", "unsupported_term", "no_sources"}
    assert "doesn't cover" in body["answer"] and "not answered" in text_of(result)
    for suggestion in body["suggestions"]:
        assert suggestion["url"].startswith("https://kb.test/learn/")


def test_search_docs_returns_ranked_sections_filtered_by_tag(server: MCPServer) -> None:
    result = call(server, "search_docs", query="what chunk size should I use", k=3)
    body = result.structured_content
    assert body is not None and len(body["hits"]) == 3
    top = body["hits"][0]
    assert top["article"] == "chunking-for-rag" and top["text"] and top["path"].endswith(".md")
    assert top["url"] == f"https://kb.test/learn/chunking-for-rag#{top['anchor']}"
    scores = [hit["score"] for hit in body["hits"]]
    assert scores == sorted(scores, reverse=True)

    tagged = call(server, "search_docs", query="cost", k=5, tag="prompting").structured_content
    assert tagged is not None and tagged["hits"]
    listed = call(server, "list_articles", tag="prompting").structured_content
    assert listed is not None
    assert {hit["article"] for hit in tagged["hits"]} <= {a["slug"] for a in listed["articles"]}


def test_list_articles_lists_every_indexed_article(server: MCPServer) -> None:
    body = call(server, "list_articles").structured_content
    assert body is not None
    slugs = {article["slug"] for article in body["articles"]}
    assert slugs == {p.stem for p in CONTENT.glob("*.md")} - {"README"}
    cost = next(a for a in body["articles"] if a["slug"] == COST)
    assert cost["url"] == f"https://kb.test/learn/{COST}" and "cost" in cost["tags"]
    tagged = call(server, "list_articles", tag="rag").structured_content
    assert tagged is not None and 0 < len(tagged["articles"]) < len(slugs)
    assert all("rag" in a["tags"] for a in tagged["articles"])


def test_get_article_is_the_page_as_markdown_without_front_matter(server: MCPServer) -> None:
    result = call(server, "get_article", slug=COST)
    body = result.structured_content
    assert body is not None and not result.is_error
    assert body["markdown"] == source_body(COST)
    assert body["url"] == f"https://kb.test/learn/{COST}" and body["path"] == f"{COST}.md"
    assert text_of(result).startswith(f"Source: https://kb.test/learn/{COST}\n\n# How Much")


def test_get_article_section_runs_to_the_next_heading_of_the_same_level(
    server: MCPServer,
) -> None:
    body = call(server, "get_article", slug=COST, anchor=ITERATIONS).structured_content
    assert body is not None
    lines = source_body(COST).splitlines()
    start = lines.index("## How many training iterations should you budget for?")
    end = next(i for i in range(start + 1, len(lines)) if lines[i].startswith("## "))
    assert body["markdown"] == "\n".join(lines[start:end]).strip("\n") + "\n"
    assert body["heading"] == "How many training iterations should you budget for?"
    assert body["url"] == f"https://kb.test/learn/{COST}#{ITERATIONS}"


def test_get_article_section_keeps_its_subsections(server: MCPServer) -> None:
    slug = "evaluating-rag"
    body = call(server, "get_article", slug=slug, anchor="retrieval-metrics").structured_content
    assert body is not None
    markdown = body["markdown"]
    assert markdown.startswith("## Retrieval metrics\n")
    assert "### Hit rate and recall@k" in markdown and "### nDCG@10" in markdown
    assert "## Answer metrics" not in markdown
    lines = source_body(slug).splitlines()
    start, end = lines.index("## Retrieval metrics"), lines.index("## Answer metrics")
    assert markdown == "\n".join(lines[start:end]).strip("\n") + "\n"

    h3 = call(server, "get_article", slug=slug, anchor="ndcg10").structured_content
    assert h3 is not None and h3["markdown"].startswith("### nDCG@10\n")
    assert "## Answer metrics" not in h3["markdown"] and "### Mean reciprocal" not in h3["markdown"]


def test_unknown_slug_and_anchor_are_tool_errors_that_say_what_exists(server: MCPServer) -> None:
    missing = call(server, "get_article", slug="fine-tuning-costs")
    assert missing.is_error and missing.structured_content is None
    assert "no article with slug 'fine-tuning-costs'" in text_of(missing)
    assert "'fine-tuning-cost'" in text_of(missing)

    anchor = call(server, "get_article", slug=COST, anchor="nope")
    assert anchor.is_error and ITERATIONS in text_of(anchor)

    traversal = call(server, "get_article", slug="../../../etc/passwd")
    assert traversal.is_error and "no article" in text_of(traversal)


def test_invalid_arguments_are_tool_errors(server: MCPServer) -> None:
    assert call(server, "search_docs", query="chunks", k=0).is_error
    assert call(server, "search_docs", query="").is_error
    assert call(server, "ask", question="x" * 2001).is_error
    assert call(server, "ask", question="   ").is_error


def test_articles_are_resources_read_as_markdown(server: MCPServer) -> None:
    async def work(client: Client) -> tuple[Any, Any, str]:
        templates = await client.list_resource_templates()
        resources = await client.list_resources()
        read = await client.read_resource(f"kb://articles/{COST}")
        text = read.contents[0].text  # type: ignore[union-attr]
        return templates, resources, text

    templates, resources, text = with_client(server, work)
    assert [t.uri_template for t in templates.resource_templates] == ["kb://articles/{+slug}"]
    uris = {str(r.uri) for r in resources.resources}
    assert f"kb://articles/{COST}" in uris and len(uris) == 18
    assert all(r.mime_type == "text/markdown" for r in resources.resources)
    assert text == f"# How Much Does Fine-Tuning Cost?\n\n{source_body(COST)}"


def test_unknown_resource_is_a_protocol_error(server: MCPServer) -> None:
    async def work(client: Client) -> MCPError | None:
        try:
            await client.read_resource("kb://articles/nope")
        except MCPError as exc:
            return exc
        return None

    error = with_client(server, work)
    assert error is not None and "no article with slug 'nope'" in str(error)


@pytest.fixture()
def outside_file(tmp_path: Path) -> Iterator[Path]:
    secret = tmp_path / "secret.md"
    secret.write_text("# Secret\n\nnot for you\n")
    yield secret


def test_markdown_is_never_read_outside_the_content_folder(
    state: ServiceState, outside_file: Path
) -> None:
    site = SiteContent(state.site_content().source)
    for path in (str(outside_file), f"../{outside_file.name}", "../../etc/passwd", "a\x00.md"):
        info = ArticleInfo(COST, "t", "", [], "", [], [], path, f"/learn/{COST}")
        with pytest.raises(MarkdownNotFoundError):
            read_markdown(site, CONTENT, info)
