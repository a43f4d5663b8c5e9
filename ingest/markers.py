"""Generator syntax left in what the index holds: the check that a tree was understood.

Prose the reader sees (titles, headings, text outside code spans, HTML's text) must hold
none of any generator's markers; code may hold them where the page shows them, except the
few that are never shown (twoslash's ``// ---cut---`` and ``// @errors``, VitePress's
``<<<`` snippet lines). Code spans (and HTML ``<code>`` elements) are the page quoting
syntax, so they are not searched.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from ingest.articles import Page
from ingest.sections import html_text

PROSE_MARKERS = re.compile(
    r":::|\{\{|\}\}|\{%|%\}|\{:|\[\[toc\]\]|^<<< |^```\{|^\([\w-]+\)=\s*$|</?[A-Z]\w*[\s/>]"
    r"|\{(?:ref|doc|term|code|numref|eq|cite|download|abbr)\}`|^% |\{ ?#[\w-]+ ?\}|!!!|--8<--",
    re.M,
)
_HTML_CODE = re.compile(r"<code\b[^>]*>.*?</code>", re.S | re.I)
CODE_MARKERS = re.compile(
    r"^\s*// ---cut(?:-before|-after)?---|^\s*// @(?:errors|noErrors)|^<<< ", re.M
)


def markers_in(pages: Iterable[Page]) -> list[tuple[str, str]]:
    """``(where, text)`` of every marker found in what the pages index."""
    found: list[tuple[str, str]] = []
    for page in pages:
        article = page.article
        for value in (article.title, article.summary):
            if PROSE_MARKERS.search(value):
                found.append((f"{article.rel} title/summary", value))
        for section in article.sections:
            if PROSE_MARKERS.search(section.anchor):
                found.append((f"{article.rel} anchor", section.anchor))
        for token in page.tokens:
            line = (token.map[0] + 1) if token.map else 0
            where = f"{article.rel}:{line}"
            if token.type == "inline":
                text = "".join(c.content for c in token.children or [] if c.type == "text")
                if PROSE_MARKERS.search(text):
                    found.append((where, text))
            elif token.type == "html_block":
                text = html_text(_HTML_CODE.sub(" ", token.content))
                if PROSE_MARKERS.search(text):
                    found.append((where, text))
            elif token.type in ("fence", "code_block") and CODE_MARKERS.search(token.content):
                found.append((where, token.content))
    return found
