"""The text of ``/llms.txt`` (llmstxt.org) and ``/llms-full.txt`` from one index version.

``llms.txt``: an H1 with the knowledge base's name, a one-line summary, a few lines on how
to ask it, then one H2 section per tag (an article under its first tag) listing
``- [title](url): summary``, where the URL is the article's Markdown on this service.
``llms-full.txt``: every article's Markdown, each under its H1 with a ``Source:`` line.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from urllib.parse import quote

from kbcore.catalog import ArticleInfo
from service.public_urls import absolute
from service.site.markdown import ArticleMarkdown

UNTAGGED = "Articles"
_SPACE = re.compile(r"\s+")


def markdown_url(base: str, slug: str) -> str:
    """Where an article's Markdown is served: ``/learn/<slug>.md``."""
    return f"{base.rstrip('/')}/learn/{quote(slug, safe='/')}.md"


def _one_line(text: str) -> str:
    return _SPACE.sub(" ", text).strip()


def _link_text(text: str) -> str:
    # The reference parser reads a title up to the first "]" and a URL up to the first ")".
    return _one_line(text).replace("[", "(").replace("]", ")")


def _link_url(url: str) -> str:
    return quote(url, safe=":/?#[]@!$&'*+,;=%~")


def _summary(name: str, articles: int, tags: list[str], base: str) -> str:
    topics = f" on {', '.join(tags[:5])}" if tags else ""
    return (
        f"{name}: {articles} article{'s' if articles != 1 else ''}{topics}. Each link is the "
        f"article's Markdown; {base}/llms-full.txt holds all of them in one file."
    )


def _sections(catalog: Mapping[str, ArticleInfo]) -> dict[str, list[ArticleInfo]]:
    grouped: dict[str, list[ArticleInfo]] = {}
    for info in catalog.values():
        grouped.setdefault(info.tags[0] if info.tags else UNTAGGED, []).append(info)
    return dict(
        sorted(grouped.items(), key=lambda item: (item[0] == UNTAGGED, -len(item[1]), item[0]))
    )


def llms_txt(name: str, catalog: Mapping[str, ArticleInfo], base: str, model_id: str) -> str:
    """``/llms.txt`` for the articles of one index version."""
    sections = _sections(catalog)
    tags = [tag for tag in sections if tag != UNTAGGED]
    lines = [
        f"# {_one_line(name)}",
        "",
        f"> {_summary(_one_line(name), len(catalog), tags, base)}",
        "",
        "Questions get answers made of verified quotes from these articles, each linked to "
        "the section it comes from:",
        "",
        f"- MCP server (Streamable HTTP): {base}/mcp",
        f"- OpenAI-compatible chat: {base}/v1/chat/completions with model `{model_id}`",
        f"- REST: {base}/v1/chat",
    ]
    for tag, articles in sections.items():
        lines += ["", f"## {_one_line(tag)}", ""]
        for info in articles:
            summary = _one_line(info.summary)
            link = f"- [{_link_text(info.title)}]({_link_url(markdown_url(base, info.slug))})"
            lines.append(f"{link}: {summary}" if summary else link)
    return "\n".join(lines) + "\n"


def full_entry(doc: ArticleMarkdown, base: str) -> str:
    """One article of ``/llms-full.txt``: its H1, a ``Source:`` line, its Markdown."""
    first, _, rest = doc.document().partition("\n")
    return f"{first}\n\nSource: {absolute(doc.url, base)}\n\n{rest.strip(chr(10))}\n"


def missing_entry(info: ArticleInfo, base: str) -> str:
    """An article whose source file cannot be read right now: title, source, summary."""
    summary = _one_line(info.summary) or "(its source file cannot be read right now)"
    return f"# {info.title}\n\nSource: {absolute(info.url, base)}\n\n{summary}\n"


def llms_full(name: str, articles: int, entries: Iterable[str]) -> str:
    """``/llms-full.txt``: a header, then every article's entry."""
    head = (
        f"# {_one_line(name)}\n\n> All {articles} article{'s' if articles != 1 else ''} of "
        "the knowledge base as Markdown, each with the URL it is published at."
    )
    return "\n\n".join(part.strip("\n") for part in [head, *entries]) + "\n"
