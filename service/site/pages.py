"""HTML of the demo "Learn" site: the home page (article list) and article pages.

Every interpolated string is escaped; the only script is the widget, embedded with the
same one tag a customer site would use.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from html import escape
from urllib.parse import urlsplit

from ingest.urls import demo_url
from service.site.content import Page
from service.site.style import CSS, CSS_HASH

SITE_NAME = "Learn"
WIDGET_TITLE = "Ask our docs"
ACCENT = "#4f46e5"


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def content_security_policy(kb_url: str = "") -> str:
    """No inline script at all; the stylesheet by hash; the widget from this server, or
    from the configured public URL's origin (never one taken from the request)."""
    kb = f" {origin_of(kb_url)}" if kb_url else ""
    return "; ".join(
        [
            "default-src 'none'",
            f"script-src 'self'{kb}",
            f"connect-src 'self'{kb}",
            f"style-src '{CSS_HASH}'",
            "img-src 'self' https: data:",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
        ]
    )


def embed_tag(kb_url: str) -> str:
    """The one tag a site adds to get the widget (``kb_url`` "": this server, relative)."""
    kb = escape(kb_url, quote=True)
    url_attr = f' data-kb-url="{kb}"' if kb_url else ""
    return (
        f'<script src="{kb}/widget.js"{url_attr} data-title="{WIDGET_TITLE}" '
        f'data-accent="{ACCENT}" data-position="right" defer></script>'
    )


@dataclass(frozen=True)
class EditorSnippets:
    """What a developer pastes to ask these docs from their editor over MCP. A token is
    only ever a placeholder here: a variable the editor fills in."""

    claude_code: str  # the command
    vscode: str  # .vscode/mcp.json
    cursor: str  # .cursor/mcp.json


def editor_snippets(kb_url: str, token_required: bool) -> EditorSnippets:
    url = f"{kb_url}/mcp"
    if not token_required:
        return EditorSnippets(
            claude_code=f"claude mcp add --transport http kb {url}",
            vscode=json.dumps({"servers": {"kb": {"type": "http", "url": url}}}, indent=2),
            cursor=json.dumps({"mcpServers": {"kb": {"url": url}}}, indent=2),
        )
    vscode = {
        "inputs": [
            {
                "type": "promptString",
                "id": "kb-token",
                "description": "KB_MCP_TOKEN",
                "password": True,
            }
        ],
        "servers": {
            "kb": {
                "type": "http",
                "url": url,
                "headers": {"Authorization": "Bearer ${input:kb-token}"},
            }
        },
    }
    cursor = {
        "mcpServers": {
            "kb": {"url": url, "headers": {"Authorization": "Bearer ${env:KB_MCP_TOKEN}"}}
        }
    }
    return EditorSnippets(
        claude_code=f"claude mcp add --transport http kb {url} "
        '--header "Authorization: Bearer $KB_MCP_TOKEN"',
        vscode=json.dumps(vscode, indent=2),
        cursor=json.dumps(cursor, indent=2),
    )


def _editor_section(kb_url: str, token_required: bool, model_id: str) -> str:
    snippets = editor_snippets(kb_url, token_required)
    return f"""<section class="embed" id="editor" aria-labelledby="editor-title">
<h2 id="editor-title">Add to your editor</h2>
<p>Ask these docs from Claude Code, Cursor or VS Code over MCP: answers quote the articles and
link to the exact section. Claude Code, in a terminal:</p>
<pre><code>{escape(snippets.claude_code)}</code></pre>
<p>VS Code, in <code>.vscode/mcp.json</code>:</p>
<pre><code>{escape(snippets.vscode)}</code></pre>
<p>Cursor, in <code>.cursor/mcp.json</code>:</p>
<pre><code>{escape(snippets.cursor)}</code></pre>
<p>Chat front-ends that speak OpenAI's API use <code>{escape(kb_url)}/v1</code> (model
<code>{escape(model_id)}</code>); language models can read <a href="/llms.txt">/llms.txt</a>.</p>
</section>"""


def _layout(title: str, description: str, main: str, kb_url: str) -> str:
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)}</title>
<meta name="description" content="{escape(description, quote=True)}">
<link rel="icon" href="/favicon.svg" type="image/svg+xml">
<style>{CSS}</style>
{embed_tag(kb_url)}
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
<header class="top"><div class="wrap">
<a class="brand" href="/"><span class="logo" aria-hidden="true">L</span>{SITE_NAME}</a>
<nav aria-label="Site"><a href="/#articles">Articles</a><a href="/docs">API</a></nav>
</div></header>
{main}
<footer><div class="wrap">Answers in the assistant come from these articles and link to the
section they quote.</div></footer>
</body>
</html>
"""


def _tags(tags: tuple[str, ...]) -> str:
    chips = "".join(f'<span class="tag">{escape(tag)}</span>' for tag in tags)
    return f'<div class="tags">{chips}</div>' if chips else ""


def _card(page: Page) -> str:
    article = page.article
    return (
        f'<a class="card" href="{escape(demo_url(article.slug), quote=True)}">'
        f"<h3>{escape(article.title)}</h3><p>{escape(article.summary)}</p>"
        f"{_tags(article.tags)}</a>"
    )


def home_html(
    pages: list[Page],
    kb_url: str,
    mcp_token_required: bool = False,
    model_id: str = "kb",
    page_base: str = "",
) -> str:
    """The home page; ``kb_url`` is the absolute address shown in the snippets,
    ``page_base`` where the page itself loads the widget from ("" = this server)."""
    questions = [p.article.questions[0] for p in pages if p.article.questions][:4]
    asks = "".join(
        f'<button type="button" class="ask" data-kb-ask="{escape(q, quote=True)}">'
        f"{escape(q)}</button>"
        for q in questions
    )
    cards = "".join(_card(p) for p in pages) or (
        '<p class="empty">No articles yet: add Markdown files to the content folder.</p>'
    )
    main = f"""<section class="hero"><div class="wrap">
<h1>How can we help?</h1>
<p>Guides and answers from our knowledge base. Ask the assistant in the corner: every answer
links to the exact section it comes from.</p>
{f'<div class="asks" aria-label="Try asking">{asks}</div>' if asks else ""}
</div></section>
<main id="main"><div class="wrap">
<h2 class="section" id="articles">All articles</h2>
<div class="grid">{cards}</div>
<section class="embed" aria-labelledby="embed-title">
<h2 id="embed-title">Add this assistant to your site</h2>
<p>One tag, placed anywhere in your page. List your site in <code>KB_ALLOWED_ORIGINS</code>.</p>
<pre><code>{escape(embed_tag(kb_url))}</code></pre>
</section>
{_editor_section(kb_url, mcp_token_required, model_id)}
</div></main>"""
    return _layout(
        f"{SITE_NAME}: knowledge base",
        "Guides and answers from the knowledge base.",
        main,
        page_base,
    )


def _date(value: dt.date) -> str:
    return f"{value:%B} {value.day}, {value.year}"


def article_html(page: Page, related: list[Page], kb_url: str) -> str:
    article, body = page.article, page.body
    minutes = max(1, round(body.words / 220))
    toc = "".join(
        f'<li class="l{min(entry.level, 3)}"><a href="#{escape(entry.anchor, quote=True)}">'
        f"{escape(entry.heading)}</a></li>"
        for entry in body.toc
        if entry.level <= 3
    )
    aside = (
        f'<nav class="toc" aria-label="On this page"><h2>On this page</h2><ol>{toc}</ol></nav>'
        if toc
        else "<div></div>"
    )
    more = "".join(_card(p) for p in related)
    related_html = (
        f'<section class="related"><h2 class="section">Related articles</h2>'
        f'<div class="grid">{more}</div></section>'
        if more
        else ""
    )
    main = f"""<main id="main"><div class="wrap">
<div class="layout">
<article>
<div class="crumbs"><a href="/">{SITE_NAME}</a> / <a href="/#articles">Articles</a></div>
<h1>{escape(article.title)}</h1>
<p class="lead">{escape(article.summary)}</p>
<div class="meta"><span>Updated {_date(article.updated)}</span><span>{minutes} min read</span>
{_tags(article.tags)}</div>
<div class="prose">
{body.html}
</div>
{related_html}
</article>
{aside}
</div>
</div></main>"""
    return _layout(f"{article.title} | {SITE_NAME}", article.summary, main, kb_url)


def related_pages(page: Page, pages: list[Page], limit: int = 3) -> list[Page]:
    """Other articles sharing the most tags with this one."""
    tags = set(page.article.tags)
    scored = [
        (len(tags & set(other.article.tags)), other)
        for other in pages
        if other.article.slug != page.article.slug
    ]
    scored = [item for item in scored if item[0] > 0]
    scored.sort(key=lambda item: (-item[0], item[1].article.title.lower()))
    return [other for _, other in scored[:limit]]
