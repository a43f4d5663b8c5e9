"""The MCP server: read-only tools and article resources over the service's own answer path.

``build_mcp_server(state)`` builds it for one running service (HTTP at ``/mcp``) or one
``kb mcp`` process (stdio). Every tool is read-only, has a typed input and a structured
output, and links to the exact section it draws on.
"""

from __future__ import annotations

import asyncio
import difflib
import time
from collections.abc import Awaitable
from typing import Annotated, Any, TypeVar

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ResourceNotFoundError, ToolError
from mcp_types import CallToolResult, Resource, TextContent, ToolAnnotations
from pydantic import Field

from kbcore.answering.models import Answer, Turn
from kbcore.catalog import ArticleInfo
from kbcore.errors import KBError
from service.analytics.log import Channel, new_conversation_id, new_message_id
from service.chat.schemas import MAX_MESSAGE, MAX_TURNS
from service.mcp_server.schemas import (
    ArticleDoc,
    ArticleEntry,
    ArticleList,
    AskResult,
    HistoryTurn,
    SearchDocsResult,
    SectionHit,
)
from service.problems import Problem, problem_from_error
from service.public_urls import absolute, public_base, with_absolute_links
from service.site.markdown import MarkdownNotFoundError, read_markdown
from service.state import ServiceState

T = TypeVar("T")
SERVER_NAME = "kb-chat"
RESOURCE_TEMPLATE = "kb://articles/{+slug}"
READ_ONLY = ToolAnnotations(
    read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False
)
INSTRUCTIONS = """This server answers from the knowledge base "{name}", and only from it.

- `ask` answers a question with verified quotes: every [n] in the answer is a verbatim
  span of the section at citation n's `url`. When you use it, cite those URLs (link the
  section title to its URL) and never cite a source the tool did not return.
- If `grounded` is false the knowledge base does not cover the question: say so, give the
  refusal reason, and offer the suggested articles instead of answering from memory.
- `search_docs` finds sections, `get_article` reads an article or one section (by anchor)
  as Markdown, `list_articles` lists the articles; cite the `url` they return.
"""


def _close_slugs(slug: str, catalog: dict[str, ArticleInfo]) -> str:
    close = difflib.get_close_matches(slug, list(catalog), n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(repr(s) for s in close)}?" if close else ""
    return f"no article with slug '{slug}'{hint} (list_articles lists every slug)"


def ask_text(answer: Answer) -> str:
    """What the model reads: the answer, then each citation's URL and verified quote."""
    lines = [answer.answer]
    if answer.citations:
        lines += ["", "Sources (verified quotes; cite these URLs):"]
        for c in answer.citations:
            lines += [f"[{c.id}] {c.label}", f"    {c.url}", f'    "{c.quote}"']
    for s in answer.suggestions:
        lines.append(f"- {s.title}: {s.url}")
    if answer.refusal is not None:
        lines += ["", f"(not answered: {answer.refusal.code.value}: {answer.refusal.detail})"]
    return "\n".join(lines)


def build_mcp_server(state: ServiceState) -> MCPServer:
    """The MCP server over ``state``'s index, chat engine and content folder."""
    settings = state.settings
    server = KnowledgeBaseServer(
        state,
        SERVER_NAME,
        title=settings.name,
        description=f'Cited answers from the knowledge base "{settings.name}".',
        instructions=INSTRUCTIONS.format(name=settings.name),
        version="0.1.0",
        log_level="WARNING",
    )

    def base(ctx: Context | None) -> str:
        del ctx  # links never follow the request's Host header
        return public_base(settings)

    @server.tool(title="Search the docs", annotations=READ_ONLY)
    async def search_docs(
        query: Annotated[str, Field(min_length=1, max_length=1000, description="What to find.")],
        ctx: Context,
        k: Annotated[int, Field(ge=1, le=20, description="Sections to return.")] = 5,
        tag: Annotated[
            str | None, Field(max_length=64, description="Only sections with this tag.")
        ] = None,
    ) -> SearchDocsResult:
        """Find the article sections that best match a query (hybrid dense + keyword
        search). Returns each section's title, heading, url, source path, best passage and
        score; cite the url."""
        retriever = await _guarded(asyncio.to_thread(state.retriever))
        tags = [tag] if tag else None
        result = await _guarded(asyncio.to_thread(retriever.search, query, k, tags))
        link = base(ctx)
        return SearchDocsResult(
            hits=[
                SectionHit(
                    article=hit.article,
                    title=hit.title,
                    heading=hit.heading,
                    anchor=hit.anchor,
                    url=absolute(hit.url, link),
                    path=hit.path,
                    text=hit.text,
                    score=round(hit.score, 6),
                )
                for hit in result.hits
            ],
            index_version=result.index_version,
        )

    @server.tool(title="Ask the knowledge base", annotations=READ_ONLY)
    async def ask(
        question: Annotated[
            str, Field(min_length=1, max_length=MAX_MESSAGE, description="The question.")
        ],
        ctx: Context,
        history: Annotated[
            list[HistoryTurn] | None,
            Field(max_length=MAX_TURNS, description="Earlier turns, oldest first."),
        ] = None,
    ) -> Annotated[CallToolResult, AskResult]:
        """Answer a question from the knowledge base with verified citations: the answer
        marks each claim [n], and citation n holds the verbatim quote and the url of the
        exact section. When the knowledge base does not cover the question, grounded is
        false, refusal says why and suggestions lists the nearest articles."""
        if not question.strip():
            raise ToolError("the question must contain text")
        started = time.perf_counter()
        turns = [Turn(role=t.role, content=t.content) for t in history or []]
        engine = await _guarded(asyncio.to_thread(state.chat_engine))
        answer = await _guarded(engine.aanswer(question.strip(), turns))
        answer = with_absolute_links(answer, base(ctx))
        message_id = new_message_id()
        conversations = state.conversation_log()
        written = conversations.record(
            channel=Channel.MCP,
            message_id=message_id,
            conversation_id=new_conversation_id(Channel.MCP),
            question=question.strip(),
            history=turns,
            answer=answer,
            latency_ms=(time.perf_counter() - started) * 1000,
        )
        await conversations.committed(written)
        result = AskResult.model_validate({**answer.to_json(""), "message_id": message_id})
        return CallToolResult(
            content=[TextContent(type="text", text=ask_text(answer))],
            structured_content=result.model_dump(mode="json"),
        )

    @server.tool(title="Read an article", annotations=READ_ONLY)
    async def get_article(
        slug: Annotated[
            str, Field(min_length=1, max_length=300, description="The article's slug.")
        ],
        ctx: Context,
        anchor: Annotated[
            str | None,
            Field(max_length=300, description="Only this section (a heading's anchor)."),
        ] = None,
    ) -> Annotated[CallToolResult, ArticleDoc]:
        """Read an article, or one section of it (from its heading to the next heading of
        the same or a higher level), as Markdown as its page reads: the site generator's
        syntax resolved and every link absolute."""
        version, catalog = await _guarded(asyncio.to_thread(state.served_catalog))
        info = catalog.get(slug)
        if info is None:
            raise ToolError(_close_slugs(slug, catalog))
        link = base(ctx)
        try:
            doc = await asyncio.to_thread(
                read_markdown,
                state.site_content(),
                settings.content_dir,
                info,
                anchor or "",
                catalog=catalog,
                base=link,
            )
        except MarkdownNotFoundError as exc:
            raise ToolError(f"{slug}: {exc}") from exc
        url = absolute(doc.url, link)
        result = ArticleDoc(
            slug=doc.slug,
            title=doc.title,
            heading=doc.heading,
            anchor=doc.anchor,
            url=url,
            path=doc.path,
            markdown=doc.markdown,
            index_version=version,
        )
        text = f"Source: {url}\n\n{doc.document()}"
        return CallToolResult(
            content=[TextContent(type="text", text=text)],
            structured_content=result.model_dump(mode="json"),
        )

    @server.tool(title="List the articles", annotations=READ_ONLY)
    async def list_articles(
        ctx: Context,
        tag: Annotated[
            str | None, Field(max_length=64, description="Only articles with this tag.")
        ] = None,
    ) -> ArticleList:
        """List the knowledge base's articles: slug, title, summary, tags, url."""
        version, catalog = await _guarded(asyncio.to_thread(state.served_catalog))
        link = base(ctx)
        return ArticleList(
            articles=[
                ArticleEntry(
                    slug=info.slug,
                    title=info.title,
                    summary=info.summary,
                    tags=info.tags,
                    updated=info.updated,
                    url=absolute(info.url, link),
                    path=info.path,
                )
                for info in catalog.values()
                if tag is None or tag in info.tags
            ],
            index_version=version,
        )

    @server.resource(
        RESOURCE_TEMPLATE,
        name="article",
        title="Knowledge-base article",
        description="An article's Markdown as its page reads (links absolute).",
        mime_type="text/markdown",
    )
    async def article_resource(slug: str) -> str:
        try:
            _, catalog = await _guarded(asyncio.to_thread(state.served_catalog))
        except ToolError as exc:
            raise ResourceNotFoundError(str(exc)) from exc
        info = catalog.get(slug)
        if info is None:
            raise ResourceNotFoundError(_close_slugs(slug, catalog))
        try:
            doc = await asyncio.to_thread(
                read_markdown,
                state.site_content(),
                settings.content_dir,
                info,
                catalog=catalog,
                base=public_base(settings),
            )
        except MarkdownNotFoundError as exc:
            raise ResourceNotFoundError(f"{slug}: {exc}") from exc
        return doc.document()

    return server


async def _guarded(work: Awaitable[T]) -> T:
    """Await ``work``; a service error becomes a tool error the model can read."""
    try:
        return await work
    except Problem as exc:
        raise ToolError(exc.detail) from exc
    except KBError as exc:
        raise ToolError(problem_from_error(exc).detail) from exc


class KnowledgeBaseServer(MCPServer[Any]):
    """An MCPServer whose resource list is the served index version's articles."""

    def __init__(self, state: ServiceState, name: str, **kwargs: Any) -> None:
        super().__init__(name, **kwargs)
        self._state = state

    async def list_resources(self) -> list[Resource]:
        listed = await super().list_resources()
        try:
            _, catalog = await asyncio.to_thread(self._state.served_catalog)
        except (Problem, KBError):
            return listed
        return listed + [
            Resource(
                uri=f"kb://articles/{info.slug}",
                name=info.slug,
                title=info.title,
                description=info.summary or None,
                mime_type="text/markdown",
            )
            for info in catalog.values()
        ]
