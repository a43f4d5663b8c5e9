"""Docs trees as site generators write them: detection, generator syntax, includes,
anchors and URLs by each generator's rules (fixtures in tests/fixtures/docs/)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from ingest.anchors import TocSlugger, toc_slug
from ingest.articles import Article, ContentSource, LoadResult, load_content
from ingest.dialects import DocsFormat

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "docs"
SITES = {
    "mkdocs-site": ("docs", DocsFormat.MKDOCS),
    "docusaurus-site": ("docs", DocsFormat.DOCUSAURUS),
    "hugo-site": ("content", DocsFormat.HUGO),
    "gfm-readme": (".", DocsFormat.GFM),
}
# Generator syntax that must never reach a title, heading, anchor or indexed text.
SYNTAX = re.compile(
    r"\{ ?#|///|!!!|\?\?\?|:::|\{\*|--8<--|<div|<Tab|\{\{|=== \"|^import |^export |\[!NOTE\]"
    r"|:material-|\]\[",
    re.M,
)


def load(name: str, **overrides: object) -> LoadResult:
    content, _ = SITES[name]
    values: dict[str, object] = {
        "content_dir": FIXTURES / name / content,
        "docs_root": FIXTURES / name,
        **overrides,
    }
    return load_content(ContentSource(**values))  # type: ignore[arg-type]


def by_slug(result: LoadResult) -> dict[str, Article]:
    return {a.slug: a for a in result.articles}


def text_of(article: Article) -> str:
    return "\n".join(s.text for s in article.sections)


@pytest.mark.parametrize("name", sorted(SITES))
def test_generator_is_detected_from_its_config(name: str) -> None:
    assert load(name).site.format is SITES[name][1]


@pytest.mark.parametrize("name", ["mkdocs-site", "docusaurus-site"])
def test_docs_folder_copied_without_its_config_is_detected_from_its_syntax(
    name: str, tmp_path: Path
) -> None:
    copy = tmp_path / "docs"
    shutil.copytree(FIXTURES / name / "docs", copy)
    site = load_content(ContentSource(content_dir=copy, docs_root=tmp_path)).site
    assert site.format is SITES[name][1] and site.detected_by == "syntax"


def test_kb_docs_format_overrides_detection() -> None:
    assert load("mkdocs-site", docs_format=DocsFormat.GFM).site.format is DocsFormat.GFM


@pytest.mark.parametrize("name", sorted(SITES))
def test_no_generator_syntax_reaches_titles_headings_anchors_or_text(name: str) -> None:
    result = load(name)
    assert result.articles
    for article in result.articles:
        for section in article.sections:
            for value in (article.title, article.summary, section.heading, section.anchor):
                assert not SYNTAX.search(value), (article.slug, value)
            lines = section.text.split("\n") if section.text else []
            assert len(lines) == len(section.prose)
            for line, prose in zip(lines, section.prose, strict=True):
                assert not (prose and SYNTAX.search(line)), (article.slug, line)
    indexed = {a.rel for a in result.articles} | {s.path for s in result.skipped}
    assert result.files == len(indexed)  # every file is indexed or reported


def test_mkdocs_admonitions_tabs_blocks_snippets_and_stubs_read_as_the_site_shows_them() -> None:
    result = load("mkdocs-site")
    pages = by_slug(result)
    home = pages["index"]
    sections = {s.anchor: s for s in home.sections}
    install = sections["install-widgets"].text  # { #install-widgets } set the anchor
    assert "Python versions\nWidgets support Python 3.9 and newer." in install
    assert "Tip" not in install.split("\n")  # a default admonition title is not text
    # Code with blank lines inside an admonition stays in it (and stays code).
    assert "widgets.setup()" in install and "The tip continues after the code" in install
    configure = sections["configure"].text
    assert "Put settings in widgets.toml under the [tool.widgets] table." in configure
    assert "Breaking change\nVersion 2 renamed spin() to rotate()." in configure
    assert "Shared snippet text: widgets are thread-safe." in configure
    example = sections["example"]
    assert 'factory = Widget(kind="gear")' in example.text  # {* file *} became its code
    code_line = example.text.split("\n").index('factory = Widget(kind="gear")')
    assert example.prose[code_line] is False
    assert "The Widget class and ellipsis both resolve." in example.text
    assert "Lenient mode coerces values." in example.text
    usage = text_of(pages["guide/usage"])
    assert "options" not in usage and "members" not in usage  # the API stub is gone
    assert "Raw HTML keeps its text." in usage and "evil" not in usage
    assert pages["guide/usage"].summary == "How to use widgets day to day."
    assert [(w.path, w.line) for w in result.warnings] == [("index.md", 46)]
    assert "missing/nowhere.md" in result.warnings[0].message


def test_docusaurus_admonitions_tabs_partials_and_mdx_lines() -> None:
    pages = by_slug(load("docusaurus-site"))
    install = next(s for s in pages["intro"].sections if s.anchor == "install").text
    assert "npm install --save-dev gadget" in install and "yarn add --dev gadget" in install
    assert "Pin the version\nPin an exact version" in install
    assert "Node support\nGadget needs Node.js 18 or newer." in install
    assert "Shared partial: Gadget never changes your code's meaning." in install
    assert "minimum" not in text_of(pages["intro"])  # export const ... is gone
    assert "_shared" not in pages  # an underscore partial is not a page of its own
    advanced = pages["advanced"]
    assert text_of(advanced) == "The advanced section covers plugins and tuning."


def test_hugo_front_matter_shortcodes_and_readfile() -> None:
    result = load("hugo-site")
    pages = by_slug(result)
    install = pages["docs/install"]
    assert install.title == "Installing Sprocket" and install.tags == ("install",)
    assert install.updated.isoformat() == "2025-03-04"
    download = next(s for s in install.sections if s.anchor == "get-it").text
    assert "Download the archive for your platform" in download
    assert "Always compare the SHA-256 checksum" in download
    assert [s.path for s in result.skipped] == ["docs/draft-page.md"]
    assert "draft" in result.skipped[0].reasons[0]


def test_plain_github_readme_tree() -> None:
    pages = by_slug(load("gfm-readme"))
    assert set(pages) == {"index", "docs", "docs/guide"}  # README.md names its folder
    readme = text_of(pages["index"])
    assert "Cogwheel needs Redis 7 or newer." in readme
    guide = pages["docs/guide"]
    assert [s.anchor for s in guide.sections] == ["", "schedule-a-job", "schedule-a-job-1"]
    assert "Pass priority=5 to run a job before others." in text_of(guide)


def test_anchors_are_computed_the_way_each_generator_computes_them() -> None:
    mkdocs = by_slug(load("mkdocs-site"))["index"]
    assert [s.anchor for s in mkdocs.sections[1:]] == [
        "install-widgets",
        "configure",
        "example",
        "uber-groe-naive",  # Python-Markdown folds accents to ASCII
        "example_1",  # and numbers repeats with "_1"
    ]
    slugger = TocSlugger()
    assert [slugger.slug(h) for h in ["A", "A", "A_1", ""]] == ["a", "a_1", "a_2", "_1"]
    assert toc_slug("Implementing `__get_pydantic_core_schema__`") == (
        "implementing-__get_pydantic_core_schema__"
    )
    docusaurus = by_slug(load("docusaurus-site"))["intro"]
    assert [s.anchor for s in docusaurus.sections[1:]] == ["install", "configure-it"]


@pytest.mark.parametrize(
    ("name", "urls"),
    [
        (
            "mkdocs-site",
            {
                "index": "https://docs.example.com/",
                "guide": "https://docs.example.com/guide/",
                "guide/usage": "https://docs.example.com/guide/usage/",
            },
        ),
        (
            "docusaurus-site",
            {
                "intro": "https://docs.example.com/getting-started",
                "advanced/01-plugins": "https://docs.example.com/extend",
                "advanced": "https://docs.example.com/advanced",
            },
        ),
        (
            "hugo-site",
            {
                "index": "https://docs.example.com/",
                "docs": "https://docs.example.com/docs/",
                "docs/install": "https://docs.example.com/docs/setup/",
            },
        ),
        (
            "gfm-readme",
            {
                "index": "https://docs.example.com/README.md",
                "docs": "https://docs.example.com/docs/README.md",
                "docs/guide": "https://docs.example.com/docs/guide.md",
            },
        ),
    ],
)
def test_page_urls_follow_the_generator_when_the_site_url_is_set(
    name: str, urls: dict[str, str]
) -> None:
    pages = by_slug(load(name, site_url="https://docs.example.com/"))
    assert {slug: a.url for slug, a in pages.items()} == urls


def test_without_a_site_url_citations_link_to_the_demo_site_and_front_matter_url_wins(
    tmp_path: Path,
) -> None:
    pages = by_slug(load("docusaurus-site"))
    assert pages["advanced/01-plugins"].url == "/learn/advanced/01-plugins"
    (tmp_path / "moved.md").write_text("---\nurl: /elsewhere/page/\n---\nText here.\n")
    result = load_content(ContentSource(tmp_path, site_url="https://x.org"))
    assert result.articles[0].url == "https://x.org/elsewhere/page/"


def test_every_front_matter_field_is_optional_and_bad_fields_only_warn(tmp_path: Path) -> None:
    (tmp_path / "bare_notes.md").write_text("Just a paragraph of notes about widgets.\n")
    (tmp_path / "headed.md").write_text("# The Heading Title\n\nFirst paragraph here.\n")
    (tmp_path / "odd.md").write_text(
        "---\ntitle: [not, text]\ntags: 5\nupdated: someday\n---\nBody text of the page.\n"
    )
    result = load_content(tmp_path)
    pages = by_slug(result)
    assert pages["bare_notes"].title == "Bare notes"
    assert pages["bare_notes"].summary == "Just a paragraph of notes about widgets."
    assert pages["headed"].title == "The Heading Title"
    assert pages["odd"].title == "Odd" and pages["odd"].tags == ()
    problems = sorted(w.message for w in result.warnings if w.path == "odd.md")
    assert len(problems) == 3  # every problem of the file at once
    assert any("'title'" in p for p in problems) and any("'updated'" in p for p in problems)


def test_updated_comes_from_the_last_commit_in_a_git_checkout(tmp_path: Path) -> None:
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    (tmp_path / "committed.md").write_text("Committed page.\n")
    env = {
        **os.environ,
        "GIT_AUTHOR_DATE": "2024-02-03T10:00:00+00:00",
        "GIT_COMMITTER_DATE": "2024-02-03T10:00:00+00:00",
    }
    for command in (
        ["git", "init", "-q"],
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", "add", "."],
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "x"],
    ):
        subprocess.run(command, cwd=tmp_path, check=True, env=env)
    (tmp_path / "fresh.md").write_text("Not committed yet.\n")
    pages = by_slug(load_content(tmp_path))
    assert pages["committed"].updated.isoformat() == "2024-02-03"
    assert pages["fresh"].updated.isoformat() != "2024-02-03"  # its modification time


def test_exclude_patterns_and_their_defaults(tmp_path: Path) -> None:
    for rel in (
        "page.md",
        "node_modules/pkg/readme.md",
        "_partials/snippet.md",
        ".github/issue.md",
        "drafts/wip.md",
        "section/_index.md",
        "notes.txt",
    ):
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("Some text.\n")
    default = sorted(a.rel for a in load_content(tmp_path).articles)
    assert default == ["drafts/wip.md", "page.md", "section/_index.md"]
    custom = load_content(ContentSource(tmp_path, exclude=("drafts/", "node_modules/")))
    assert sorted(a.rel for a in custom.articles) == [
        "_partials/snippet.md",
        "page.md",
        "section/_index.md",
    ]


def test_links_leaving_the_content_folder_and_special_files_are_refused(tmp_path: Path) -> None:
    content = tmp_path / "content"
    (content / "real").mkdir(parents=True)
    (content / "real" / "page.md").write_text("Inside the content folder.\n")
    secret = tmp_path / "secret.md"
    secret.write_text("KB_ADMIN_TOKEN=hunter2-hunter2\n")
    (content / "leak.md").symlink_to(secret)
    (content / "outside").symlink_to(tmp_path)
    (content / "again").symlink_to(content / "real")  # inside: followed once
    (content / "loop").symlink_to(content)
    os.mkfifo(content / "pipe.md")
    result = load_content(content)
    assert sorted(a.rel for a in result.articles) == ["real/page.md"]
    reasons = {s.path: s.reasons[0] for s in result.skipped}
    assert reasons == {
        "leak.md": "a link to a file outside the content folder",
        "outside/": "a link to a folder outside the content folder",
        "pipe.md": "not a regular file",
    }
    assert all("hunter2" not in text_of(a) for a in result.articles)


def test_includes_may_not_read_outside_the_docs_root(tmp_path: Path) -> None:
    root = tmp_path / "site"
    (root / "docs").mkdir(parents=True)
    (tmp_path / "secret.md").write_text("TOP SECRET\n")
    (root / "docs" / "page.md").write_text(
        'Intro.\n\n--8<-- "../../secret.md"\n\n{* ../../secret.md *}\n'
    )
    result = load_content(ContentSource(root / "docs", docs_root=root))
    assert "TOP SECRET" not in text_of(result.articles[0])
    assert [w.message for w in result.warnings] == [
        "include '../../secret.md' points outside the docs root; left out"
    ] * 2


def test_oversize_and_binary_files_are_skipped_with_their_reason(tmp_path: Path) -> None:
    (tmp_path / "big.md").write_text("word " * 1000)
    (tmp_path / "binary.md").write_bytes(b"PK\x03\x04\x00\x00binary")
    (tmp_path / "ok.md").write_text("Fine.\n")
    result = load_content(ContentSource(tmp_path, max_bytes=2048))
    reasons = {s.path: s.reasons[0] for s in result.skipped}
    assert "over the 2,048-byte limit" in reasons["big.md"]
    assert "binary" in reasons["binary.md"]
    assert [a.slug for a in result.articles] == ["ok"]


def test_the_dialect_assumed_and_why_are_reported(tmp_path: Path) -> None:
    (tmp_path / "page.md").write_text("# Page\n\nPlain text.\n", encoding="utf-8")
    site = load_content(ContentSource(content_dir=tmp_path, docs_root=tmp_path)).site
    assert site.format is DocsFormat.GFM
    assert "plain GitHub Markdown" in site.reason
    assert load("mkdocs-site").site.reason == "found mkdocs.yml"
    forced = load("mkdocs-site", docs_format=DocsFormat.GFM).site
    assert forced.reason == "set by KB_DOCS_FORMAT"
