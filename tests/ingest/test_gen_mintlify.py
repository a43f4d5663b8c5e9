"""Mintlify trees: detection, components as the page shows them, snippets, Mintlify's own
anchors (``param-`` ids of API fields) and page URLs (fixture:
tests/fixtures/docs/mintlify-site)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ingest.articles import Article, ContentSource, LoadResult, load_content
from ingest.dialects import DocsFormat
from ingest.generators.mintlify import fence_label, mintlify_slug
from ingest.linkcheck import check_links, load_pages
from ingest.markers import markers_in

SITE = Path(__file__).resolve().parents[1] / "fixtures" / "docs" / "mintlify-site"
URL = "https://docs.example.com/docs"


def load() -> LoadResult:
    return load_content(ContentSource(content_dir=SITE, docs_root=SITE, site_url=URL))


def article(rel: str) -> Article:
    return next(a for a in load().articles if a.rel == rel)


def lines(rel: str) -> list[str]:
    return [line for s in article(rel).sections for line in s.text.split("\n")]


def test_detected_from_docs_json_and_snippets_are_not_pages() -> None:
    result = load()
    assert result.site.format is DocsFormat.MINTLIFY
    assert result.site.detected_by == "docs.json"
    assert sorted(a.rel for a in result.articles) == [
        "api/users.mdx",
        "changelog.mdx",
        "cli/index.mdx",
        "guides/setup.mdx",
        "index.mdx",
    ]


def test_a_docs_json_that_is_not_mintlifys_is_not_claimed(tmp_path: Path) -> None:
    (tmp_path / "docs.json").write_text('{"version": 1}')
    (tmp_path / "page.md").write_text("# Page\n\nText.\n")
    site = load_content(ContentSource(content_dir=tmp_path, docs_root=tmp_path)).site
    assert site.format is not DocsFormat.MINTLIFY


def test_snippets_are_included_where_imported() -> None:
    assert lines("index.mdx")[0] == "This sentence comes from a shared snippet."


def test_callouts_keep_their_text_without_default_titles() -> None:
    text = lines("guides/setup.mdx")
    assert text[:2] == ["Requires Node.js 20 or later.", "Never commit your API key."]
    assert "Note" not in text and "Warning" not in text


def test_code_groups_label_each_block() -> None:
    text = lines("guides/setup.mdx")
    assert text[text.index("npm") + 1] == "npm i -g mint"
    assert text[text.index("pnpm") + 1] == "pnpm add -g mint"
    assert fence_label('javascript app.js icon="js" lines') == "app.js"


def test_steps_accordions_tabs_and_frames_keep_their_titles() -> None:
    text = lines("guides/setup.mdx")
    for title in (
        "Clone the repository",
        "Run the preview",
        "Where does the config live?",
        "macOS",
        "Windows",
        "The preview in a browser",
    ):
        assert title in text
    assert text[text.index("Clone the repository") + 1] == "Clone it with Git:"
    assert "git clone <url>" in text  # indented code inside a step is code
    assert "Run mint dev and open the preview." in text  # tooltip leaves its text


def test_hidden_and_comment_content_is_left_out() -> None:
    joined = "\n".join(lines("guides/setup.mdx"))
    assert "Humans read this on the web." in joined
    assert "Agents read this" not in joined
    for syntax in ("<", "{/*", "comment", "for=", "tip="):
        assert syntax not in joined.replace("<url>", "")


def test_api_fields_show_name_type_and_take_param_ids() -> None:
    users = article("api/users.mdx")
    parameters, response = users.sections[1], users.sections[2]
    assert parameters.text.split("\n") == [
        "limit (number, required, default: 10)",
        "How many users to return.",
    ]
    assert parameters.ids == ("param-limit",)
    assert response.ids == ("param-users-name", "param-first")
    assert "properties" in response.text.split("\n")  # the Expandable's title


def test_changelog_updates_keep_their_label() -> None:
    text = lines("changelog.mdx")
    assert text[:2] == ["March 2026", "v2.0"]
    assert article("changelog.mdx").sections[1].anchor == "faster-builds"


@pytest.mark.parametrize(
    ("heading", "anchor"),
    [  # Mintlify's own examples ("Automatic anchor IDs")
        ("Getting started", "getting-started"),
        ("Config.json options", "config-json-options"),
        ("What's new", "what’s-new"),
        ("Rate limits (per minute)", "rate-limits-per-minute"),
        ("Read/write access", "read/write-access"),
        ("Fees & billing", "fees-&-billing"),
        ("OAuth", "oauth"),
        ("Tier 1: Standard support", "tier-1-standard-support"),
    ],
)
def test_mintlify_anchor_rule(heading: str, anchor: str) -> None:
    assert mintlify_slug(heading) == anchor


def test_page_anchors_number_repeats_from_two() -> None:
    anchors = [s.anchor for s in article("guides/setup.mdx").sections]
    assert anchors == [
        "",
        "install-the-cli",
        "config-json-options",
        "what’s-new-in-2-0",
        "install-the-cli-2",
    ]


def test_urls_drop_the_extension_and_index() -> None:
    urls = {a.rel: a.url for a in load().articles}
    assert urls["cli/index.mdx"] == f"{URL}/cli"
    assert urls["guides/setup.mdx"] == f"{URL}/guides/setup"
    assert urls["index.mdx"] == f"{URL}/"


def test_the_fixture_links_land_and_no_syntax_is_left() -> None:
    source = ContentSource(content_dir=SITE, docs_root=SITE, site_url=URL)
    pages, failed = load_pages(source)
    assert failed == [] and markers_in(pages) == []
    report = check_links(pages, URL)
    assert report.missed == [] and report.dead == []
    assert report.landed == 3  # component hrefs are no Markdown links


def test_snippet_imports_are_from_the_docs_folder_not_the_repository(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    shutil.copytree(SITE, docs)
    (tmp_path / "snippets").mkdir()
    (tmp_path / "snippets" / "intro.mdx").write_text("The repository root's decoy.\n")
    source = ContentSource(content_dir=docs, docs_root=tmp_path, site_url=URL)
    index = next(a for a in load_content(source).articles if a.rel == "index.mdx")
    assert index.sections[0].text.split("\n")[0] == "This sentence comes from a shared snippet."
