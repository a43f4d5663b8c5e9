"""Jekyll sites: detection, Liquid rendered as Jekyll renders it, kramdown's attribute
lists and extensions, kramdown-parser-gfm heading ids and permalink URLs (fixture in
tests/fixtures/docs/jekyll-site/)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path, PurePosixPath

import pytest

from ingest.articles import Article, ContentSource, LoadResult, load_content
from ingest.dialects import DocsFormat
from ingest.generators.jekyll import GfmSlugger, gfm_id, kramdown_id, site_path, url_of
from ingest.linkcheck import check_links, load_pages

SITE = Path(__file__).resolve().parents[1] / "fixtures" / "docs" / "jekyll-site"
URL = "https://gizmo.example"
# Liquid and kramdown syntax that must never reach what is indexed as prose.
SYNTAX = re.compile(r"\{%|%\}|\{\{|\}\}|\{:|\*\[HTML\]")


def load(content: Path = SITE / "_guides", root: Path = SITE, **extra: object) -> LoadResult:
    values: dict[str, object] = {
        "content_dir": content,
        "docs_root": root,
        "site_url": URL,
        **extra,
    }
    return load_content(ContentSource(**values))  # type: ignore[arg-type]


def pages() -> dict[str, Article]:
    return {a.rel: a for a in load().articles}


def sections(article: Article) -> dict[str, str]:
    return {s.anchor: s.text for s in article.sections}


def test_detected_from_its_config_and_overridden_by_kb_docs_format() -> None:
    result = load()
    assert result.site.format is DocsFormat.JEKYLL
    assert result.site.detected_by == "_config.yml"
    assert load(docs_format=DocsFormat.GFM).site.format is DocsFormat.GFM


def test_copied_without_its_config_it_is_detected_from_its_syntax(tmp_path: Path) -> None:
    shutil.copytree(SITE / "_guides", tmp_path / "docs")
    site = load(tmp_path / "docs", tmp_path).site
    assert site.format is DocsFormat.JEKYLL and site.detected_by == "syntax"


def test_a_jupyter_book_or_bare_config_is_not_claimed(tmp_path: Path) -> None:
    book = tmp_path / "book"
    book.mkdir()
    (book / "_config.yml").write_text("title: A book\nexecute:\n  execute_notebooks: off\n")
    (book / "intro.md").write_text("# Intro\n\nPlain text.\n")
    assert load(book, book).site.format is not DocsFormat.JEKYLL
    (book / "_config.yml").write_text("title: A book\n")
    (book / "_toc.yml").write_text("format: jb-book\nroot: intro\n")
    assert load(book, book).site.format is not DocsFormat.JEKYLL
    (book / "_toc.yml").unlink()
    assert load(book, book).site.format is DocsFormat.GFM  # no Jekyll key nor folder
    (book / "_config.yml").write_text("title: A site\nmarkdown: kramdown\n")
    assert load(book, book).site.format is DocsFormat.JEKYLL


def test_unpublished_files_are_not_pages() -> None:
    rels = set(pages())
    assert rels == {"about.md", "index.md", "install.md", "setup/first-run.md"}
    # internal-notes.md: the config's exclude; _partial.md: a leading underscore.


def test_liquid_values_comments_conditions_and_includes() -> None:
    result = load()
    install = {a.rel: a for a in result.articles}["install.md"]
    overview = install.sections[0].text
    assert 'This page is "Installing Gizmo" and lives at /guides/install/.' in overview
    assert "Gizmo runs on Linux and macOS." in overview  # the if's body stays
    assert "turbo" not in overview and "Maintainers" not in overview  # comment is gone
    text = sections(install)
    assert text["needs"].startswith("Check your Ruby with the command below.")
    assert "Tip: Back up your gizmo.yml first." in text["upgrading20"]  # _includes/tip.md
    # A missing include is dropped with one warning per name and page.
    assert [(w.path, w.line) for w in result.warnings] == [("install.md", 16)]
    assert "nowhere.html" in result.warnings[0].message
    index = pages()["index.md"]
    assert index.sections[0].text.startswith("Welcome to the Gizmo guides, for version 2.1.")


def test_highlight_becomes_code_and_raw_keeps_liquid_verbatim() -> None:
    install = pages()["install.md"]
    needs = next(s for s in install.sections if s.anchor == "needs")
    lines = needs.text.split("\n")
    assert "puts RUBY_VERSION" in lines
    assert needs.prose[lines.index("puts RUBY_VERSION")] is False  # code, not prose
    assert "highlight" not in needs.text
    upgrading = next(s for s in install.sections if s.anchor == "upgrading20")
    raw_line = upgrading.text.split("\n").index("{{ page.title | upcase }}")
    assert upgrading.prose[raw_line] is False  # shown as written, inside its code fence
    assert "raw" not in upgrading.text


def test_highlight_fence_keeps_its_language() -> None:
    loaded, _ = load_pages(ContentSource(content_dir=SITE / "_guides", docs_root=SITE))
    page = next(p for p in loaded if p.article.rel == "install.md")
    fences = {t.info.strip(): t.content for t in page.tokens if t.type == "fence"}
    assert fences["ruby"] == "puts RUBY_VERSION\n"
    assert fences["liquid"] == "{{ page.title | upcase }}\n"


def test_kramdown_attribute_lists_and_extensions() -> None:
    install = pages()["install.md"]
    overview = install.sections[0].text
    assert "Gizmo needs Ruby 3.1 or newer." in overview  # {: .note .info} left the text
    options = sections(install)["gizmo-options"]
    assert "Verbatim nomarkdown paragraph." in options
    assert "Hidden kramdown comment" not in options
    assert "The HTML output is configurable." in options
    assert "Hyper Text Markup Language" not in options  # abbreviation definition
    for article in pages().values():
        for section in article.sections:
            for value in (section.heading, section.anchor, article.title, article.summary):
                assert not SYNTAX.search(value), value
            for line, prose in zip(section.text.split("\n"), section.prose, strict=True):
                assert not (prose and SYNTAX.search(line)), line


def test_heading_ids_are_kramdown_gfm_ids() -> None:
    install = pages()["install.md"]
    assert [s.anchor for s in install.sections] == [
        "",
        "needs",  # {: #needs} on the line under the heading
        "upgrading20",  # the included badge's text is part of the id
        "gizmo-options",  # {#gizmo-options}
        "options",  # explicit ids are not counted by kramdown
        "fast--really---fast",  # `--` in text is a dash kramdown drops; in code it stays
    ]
    first_run = pages()["setup/first-run.md"]
    assert first_run.sections[1].anchor == "première-étape"


def test_gfm_and_kramdown_id_rules() -> None:
    assert gfm_id("Jekyll & macOS") == "jekyll--macos"
    assert gfm_id("Use `site.url`...") == "use-siteurl"
    ids = GfmSlugger()
    assert [ids.slug("Bug Fixes") for _ in range(3)] == ["bug-fixes", "bug-fixes-1", "bug-fixes-2"]
    assert kramdown_id("1. Première étape") == "premire-tape"


def test_kramdown_input_and_id_prefix_from_the_config(tmp_path: Path) -> None:
    (tmp_path / "_config.yml").write_text("kramdown:\n  input: kramdown\n  auto_id_prefix: h-\n")
    (tmp_path / "page.md").write_text(
        "---\ntitle: P\n---\n## 2. Première étape\n\n## Dup\n\n## Dup\n"
    )
    article = load(tmp_path, tmp_path).articles[0]
    assert [s.anchor for s in article.sections[1:]] == ["h-premire-tape", "h-dup", "h-dup-1"]


def test_page_urls_follow_permalinks_and_baseurl() -> None:
    urls = {rel: a.url for rel, a in pages().items()}
    assert urls == {
        "index.md": f"{URL}/manual/guides/",  # front-matter permalink
        "install.md": f"{URL}/manual/guides/install/",  # the collection's permalink
        "setup/first-run.md": f"{URL}/manual/guides/setup/first-run/",
        "about.md": f"{URL}/manual/guides/extra/about/",  # placeholders in a permalink
    }


def test_url_rules_for_pages_posts_and_styles() -> None:
    date_style = {"permalink": "date", "collections": {}}
    assert url_of("about.md", {}, date_style) == "/about.html"
    assert url_of("docs/index.md", {}, date_style) == "/docs/"
    assert url_of("_posts/2024-03-05-hello.md", {}, date_style) == "/2024/03/05/hello.html"
    assert url_of("_posts/2024-03-05-hello.md", {"categories": "news"}, date_style) == (
        "/news/2024/03/05/hello.html"
    )
    assert url_of("_notes/a/b.md", {}, {"permalink": "pretty"}) == "/notes/a/b/"
    assert url_of("_notes/a/b.md", {}, date_style) == "/notes/a/b.html"
    options = {"prefix": "_docs", "baseurl": "/base", "collections": {}, "permalink": "date"}
    assert site_path(PurePosixPath("x.md"), {"permalink": "/x/"}, options) == "base/x/"


def test_liquid_links_land_on_the_pages_urls() -> None:
    loaded, failed = load_pages(
        ContentSource(content_dir=SITE / "_guides", docs_root=SITE, site_url=URL)
    )
    assert not failed
    index = next(p for p in loaded if p.article.rel == "index.md")
    hrefs = [
        c.attrGet("href") for t in index.tokens for c in t.children or [] if c.type == "link_open"
    ]
    assert hrefs == [
        "/manual/guides/install/",  # {{ '/guides/install/' | relative_url }}
        "/manual/guides/setup/first-run/",  # {% link _guides/setup/first-run.md %}
        "/manual/2024/03/05/gizmo-2-released/",  # {% post_url ... %}, pretty style
    ]
    report = check_links(loaded, URL)
    assert report.missed == [] and report.landed == 5
    assert [link.href for link, _ in report.dead] == ["/manual/2024/03/05/gizmo-2-released/"]


@pytest.mark.parametrize("line", ["{% raw %}", "{{ site.product_name }}", "{: .note}"])
def test_signals_match_jekyll_syntax(line: str) -> None:
    from ingest.generators.jekyll import SIGNALS

    assert SIGNALS.search(f"Text\n{line}\n")
