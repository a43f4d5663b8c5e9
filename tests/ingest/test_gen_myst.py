"""MyST (mystmd / Jupyter Book) trees: detection, directives and roles as the reader sees
them, label ids, heading anchors and page URLs (fixture: tests/fixtures/docs/myst-site)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ingest.articles import Article, ContentSource, LoadResult, load_content
from ingest.dialects import DocsFormat
from ingest.generators.myst_text import create_slug, html_id, normalize_label
from ingest.linkcheck import check_links, links_of, load_pages

SITE = Path(__file__).resolve().parents[1] / "fixtures" / "docs" / "myst-site"
URL = "https://example.org/docs"


def load(**overrides: object) -> LoadResult:
    values: dict[str, object] = {
        "content_dir": SITE / "docs",
        "docs_root": SITE,
        "site_url": URL,
        **overrides,
    }
    return load_content(ContentSource(**values))  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def result() -> LoadResult:
    return load()


@pytest.fixture(scope="module")
def pages(result: LoadResult) -> dict[str, Article]:
    return {a.rel: a for a in result.articles}


def text_of(article: Article) -> str:
    return "\n".join(s.text for s in article.sections)


def lines_of(article: Article) -> list[tuple[str, bool, bool]]:
    out: list[tuple[str, bool, bool]] = []
    for section in article.sections:
        lines = section.text.split("\n") if section.text else []
        out.extend(zip(lines, section.prose, section.tables, strict=True))
    return out


def test_detected_from_myst_yml(result: LoadResult) -> None:
    assert result.site.format is DocsFormat.MYST
    assert result.site.detected_by.endswith("myst.yml")


def test_detected_from_its_syntax_without_config(tmp_path: Path) -> None:
    copy = tmp_path / "docs"
    shutil.copytree(SITE / "docs", copy, ignore=shutil.ignore_patterns("myst.yml"))
    site = load_content(ContentSource(content_dir=copy, docs_root=tmp_path)).site
    assert site.format is DocsFormat.MYST and site.detected_by == "syntax"


def test_jupyter_book_config_with_toc_is_myst_but_a_lone_config_is_not(tmp_path: Path) -> None:
    book = tmp_path / "book"
    book.mkdir()
    (book / "_config.yml").write_text("title: My Book\n")
    (book / "_toc.yml").write_text("format: jb-book\nroot: intro\nchapters:\n- file: ch1\n")
    (book / "intro.md").write_text("# Intro\n\nHello.\n")
    (book / "ch1.md").write_text("# Chapter One\n\nText.\n")
    (book / "notes.md").write_text("# Notes\n\nNot in the toc.\n")
    loaded = load_content(ContentSource(content_dir=book, docs_root=book, site_url=URL))
    assert loaded.site.format is DocsFormat.MYST
    urls = {a.rel: a.url for a in loaded.articles}
    assert urls == {"intro.md": f"{URL}/", "ch1.md": f"{URL}/ch1"}

    jekyll = tmp_path / "jekyll"
    jekyll.mkdir()
    (jekyll / "_config.yml").write_text("title: Blog\n")
    (jekyll / "post.md").write_text("# Post\n\nText.\n")
    site = load_content(ContentSource(content_dir=jekyll, docs_root=jekyll)).site
    assert site.format is not DocsFormat.MYST


def test_kb_docs_format_overrides() -> None:
    assert load(docs_format=DocsFormat.GFM).site.format is DocsFormat.GFM


def test_page_urls_are_flat_slugs_with_the_first_toc_page_at_the_root(
    pages: dict[str, Article],
) -> None:
    assert {rel: a.url for rel, a in pages.items()} == {
        "index.md": f"{URL}/",
        "guide/01-setup.md": f"{URL}/setup",  # number prefix dropped, no folder
        "reference.md": f"{URL}/reference",
        "guide/index.md": f"{URL}/index-1",  # "index" is the root page's slug
    }


def test_files_outside_the_toc_are_not_pages(pages: dict[str, Article]) -> None:
    assert "README.md" not in pages and "_partial.md" not in pages


def test_heading_ids_follow_labels_and_create_html_id(pages: dict[str, Article]) -> None:
    anchors = [s.anchor for s in pages["guide/01-setup.md"].sections]
    assert anchors == [
        "",
        "setup-label",
        "rotate-widgets",
        "rotating-widgets",
        "id-2-numbered-step-go",
    ]


def test_labels_on_blocks_are_ids_inside_their_section(pages: dict[str, Article]) -> None:
    sections = pages["reference.md"].sections
    assert set(sections[0].ids) >= {
        "fig-gear",
        "table-sizes",
        "eq-crank",
        "eq-torque",
        "para-label",
    }
    assert sections[-1].anchor == "exercises" and "ex-crank" in sections[-1].ids


def test_directive_titles_and_bodies_are_indexed_without_syntax(pages: dict[str, Article]) -> None:
    setup, reference = text_of(pages["guide/01-setup.md"]), text_of(pages["reference.md"])
    for title in ("Mind the version", "install.sh"):
        assert title in setup.split("\n")
    assert "Untitled warning body text." in setup and "Warning" not in setup.split("\n")
    for title in (
        "Python",
        "JavaScript",
        "Custom Admonition Title",
        "Dropdown Title",
        "Card Title",
        "Demo Tip Title",
        "Widget sizes",
        "snippet.py",
        "Turn the crank",
    ):
        assert title in reference.split("\n"), title
    for body in (
        "Hidden dropdown body.",
        "The gear figure caption.",
        "Included partial paragraph about gears.",
        "Body of an unknown directive.",
        "The way the crank turns.",
        "An aside note.",
    ):
        assert body in reference, body
    # A demo shows its source (as code) and what it renders (as text), as the page does.
    assert reference.count("Demo rendered body.") == 2
    prose = "\n".join(line for line, is_prose, _ in lines_of(pages["reference.md"]) if is_prose)
    for syntax in (
        ":::",
        "```",
        "{tab-item}",
        "(para-label)=",
        "A comment",
        "ignored argument",
        ":some-option:",
        ":label:",
        "gear.png",
        "guide/01-setup\n",
        "+++",
        "{ref}",
    ):
        assert syntax not in prose, syntax
    # The demo's source is shown as code, the way the page shows it.
    assert (":::{tip} Demo Tip Title", False, False) in lines_of(pages["reference.md"])


def test_code_math_and_tables_keep_their_shape(pages: dict[str, Article]) -> None:
    lines = lines_of(pages["reference.md"])
    assert ("def crank():", False, False) in lines
    assert ("\\tau = r F", False, False) in lines
    assert ("graph LR; A-->B", False, False) in lines
    assert ("Size | Teeth", False, True) in lines
    assert ("Small | 12", True, True) in lines
    assert ("pip install widgets", False, False) in lines_of(pages["guide/01-setup.md"])


def test_roles_become_their_text(pages: dict[str, Article]) -> None:
    first = pages["reference.md"].sections[0].text.split("\n")[0]
    assert first == (
        "Intro with CLI, H2O, rotate(), e^{i\\pi} and x^2. A citation disappears. "
        "Unknown role text stays."
    )
    assert "Turn the crank clockwise and press Ctrl+R." in text_of(pages["guide/01-setup.md"])


def test_references_show_the_target_title(pages: dict[str, Article]) -> None:
    home = text_of(pages["index.md"])
    assert "Start with Install the Widget CLI or read the reference." in home
    assert "See the rotation guide and Rotating widgets." in home


def test_label_links_resolve_to_the_page_holding_the_label() -> None:
    loaded, failed = load_pages(
        ContentSource(content_dir=SITE / "docs", docs_root=SITE, site_url=URL)
    )
    assert failed == []
    hrefs = {p.article.rel: [h for _, h in links_of(p.tokens)] for p in loaded}
    assert hrefs["index.md"][:2] == ["guide/01-setup.md#setup-label", "reference.md"]
    assert "#table-sizes" in hrefs["reference.md"]
    report = check_links(loaded, URL)
    assert report.missed == [] and report.dead == [] and report.landed == 11


@pytest.mark.parametrize(
    ("heading", "anchor"),
    [
        ("`{embed}` vs. `{include}`".replace("`", ""), "id-embed-vs-include"),
        ("1. Intro", "id-1-intro"),
        ("Hello, World!", "hello-world"),
        ("It's “quoted”", "its-quoted"),
    ],
)
def test_html_id(heading: str, anchor: str) -> None:
    assert html_id(normalize_label(heading)) == anchor


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("01-intro", "intro"),
        ("2020-report", "2020-report"),
        ("Q&A", "q-and-a"),
        ("README", "readme"),
    ],
)
def test_create_slug(name: str, slug: str) -> None:
    assert create_slug(name) == slug
