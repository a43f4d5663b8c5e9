"""Astro Starlight trees: detection, components and asides as the page shows them,
github-slugger anchors and Astro's page URLs (fixture: tests/fixtures/docs/starlight-site)."""

from __future__ import annotations

import shutil
from pathlib import Path, PurePosixPath

from ingest.articles import Article, ContentSource, LoadResult, load_content
from ingest.dialects import DocsFormat
from ingest.generators.starlight import fence_label, site_path
from ingest.linkcheck import check_links, load_pages
from ingest.markers import markers_in

SITE = Path(__file__).resolve().parents[1] / "fixtures" / "docs" / "starlight-site"
CONTENT = SITE / "src" / "content" / "docs"
URL = "https://docs.example.com"


def load(content: Path = CONTENT, root: Path = SITE) -> LoadResult:
    return load_content(ContentSource(content_dir=content, docs_root=root, site_url=URL))


def article(rel: str) -> Article:
    return next(a for a in load().articles if a.rel == rel)


def lines(rel: str) -> list[str]:
    return [line for s in article(rel).sections for line in s.text.split("\n")]


def test_detected_from_an_astro_config_using_starlight() -> None:
    site = load().site
    assert site.format is DocsFormat.STARLIGHT
    assert site.detected_by == "astro.config.mjs"
    assert site.options["trailing_slash"] == "always"


def test_an_astro_config_without_starlight_is_not_claimed(tmp_path: Path) -> None:
    (tmp_path / "astro.config.mjs").write_text("export default defineConfig({});\n")
    (tmp_path / "page.md").write_text("# Page\n\nText.\n")
    site = load_content(ContentSource(content_dir=tmp_path, docs_root=tmp_path)).site
    assert site.format is not DocsFormat.STARLIGHT


def test_docs_copied_without_the_config_are_detected_from_their_imports(tmp_path: Path) -> None:
    shutil.copytree(CONTENT, tmp_path / "docs")
    site = load_content(ContentSource(content_dir=tmp_path / "docs", docs_root=tmp_path)).site
    assert site.format is DocsFormat.STARLIGHT and site.detected_by == "syntax"


def test_tabs_keep_their_labels_before_their_code() -> None:
    text = lines("guides/Getting-Started.mdx")
    npm = text.index("npm")
    assert text[npm + 1] == "npm install @astrojs/starlight"
    assert text[text.index("pnpm") + 1] == "pnpm add @astrojs/starlight"


def test_steps_asides_badges_and_icons_as_the_page_shows_them() -> None:
    text = lines("guides/Getting-Started.mdx")
    assert "Open the config file." in text
    assert "Add the integration to the list." in text  # the icon leaves nothing
    assert "Keep it short" in text  # an explicit aside title
    assert "Plain asides show no title of their own." in text
    assert "Note" not in text and "Tip" not in text  # default titles are not text
    assert "Start here to install the theme. Experimental" in text  # <Badge text>
    joined = "\n".join(text)
    for syntax in ("<", "{/*", "import ", "syncKey", "seti:npm"):
        assert syntax not in joined.replace("npm install", "")


def test_file_trees_and_code_titles_are_text() -> None:
    text = lines("guides/Getting-Started.mdx")
    start = text.index("astro.config.mjs")
    assert text[start : start + 4] == ["astro.config.mjs", "src/", "content/", "docs/"]
    title = text.index("export default {};") - 1
    assert text[title] == "astro.config.mjs"


def test_cards_and_multi_line_link_cards_keep_title_and_description() -> None:
    text = lines("index.mdx")
    assert text == [
        "Fast builds",
        "Pages build in milliseconds.",
        "Read the setup guide",
        "Install the theme and write your first page.",
    ]


def test_colon_asides_keep_only_explicit_titles() -> None:
    text = lines("reference/config.md")
    assert "Did you know?" in text and "The base is part of every link." in text
    assert "Caution" not in text and "Changing it breaks old links." in text


def test_anchors_are_github_slugger_with_numbered_repeats() -> None:
    anchors = [s.anchor for s in article("guides/Getting-Started.mdx").sections]
    assert anchors == [
        "",
        "install-the-starlight-package",
        "configure-it",
        "project-layout",
        "configure-it-1",
    ]


def test_urls_are_lower_cased_slugs_with_trailing_slashes() -> None:
    urls = {a.rel: a.url for a in load().articles}
    assert urls["guides/Getting-Started.mdx"] == f"{URL}/guides/getting-started/"
    assert urls["index.mdx"] == f"{URL}/"
    assert urls["reference/moved.md"] == f"{URL}/custom/place/"  # front-matter slug
    never = {"trailing_slash": "never"}
    assert site_path(PurePosixPath("guides/a.md"), {}, never) == "guides/a"
    assert site_path(PurePosixPath("guides/index.mdx"), {}, never) == "guides"


def test_fence_titles_skip_text_markers() -> None:
    assert fence_label('js title="src/a.js" {2}') == "src/a.js"
    assert fence_label("mdx 'title=\"Watch out!\"'") == ""


def test_the_fixture_links_land_and_no_syntax_is_left() -> None:
    source = ContentSource(content_dir=CONTENT, docs_root=SITE, site_url=URL)
    pages, failed = load_pages(source)
    assert failed == [] and markers_in(pages) == []
    report = check_links(pages, URL)
    assert report.missed == [] and report.dead == []
    assert report.landed == 2  # component hrefs are no Markdown links
