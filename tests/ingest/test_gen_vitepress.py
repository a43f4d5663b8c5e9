"""VitePress trees as VitePress builds them: detection, config settings read as text,
page URLs, anchors (``@mdit-vue/shared``'s slugify, markdown-it-anchor's repeats) and
its syntax becoming what the reader sees (containers, code groups, twoslash, ``<<<``
snippets, ``@include``, Vue)."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

import pytest

from ingest.articles import Article, ContentSource, LoadResult, load_content
from ingest.dialects import DocsFormat
from ingest.generators.vitepress import (
    config_keys,
    fence_language,
    find_regions,
    parse_snippet,
    read_options,
    site_path,
    slugify,
    twoslash_visible,
)
from ingest.linkcheck import check_links, load_pages

SITE = "https://docs.example.com"
CONFIG = """\
import { defineConfig } from 'vitepress'

// base: '/not-this/' in a comment
export default defineConfig({
  title: 'Example: docs',
  description: "cleanUrls: false, in a string",
  base: '/docs/',
  cleanUrls: true,
  srcExclude: ['**/drafts/**', 'notes.md'],
  rewrites: {
    'old/place.md': 'new/place.md',
    'packages/:pkg/src/(.*)': ':pkg/index.md',
  },
  themeConfig: {
    sidebar: [{ text: 'Guide', base: '/guide/', items: [{ text: 'A', link: 'a' }] }],
  },
})
"""


def write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def load(root: Path, content: Path | None = None, **overrides: object) -> LoadResult:
    values: dict[str, object] = {
        "content_dir": content or root,
        "docs_root": root,
        "site_url": SITE,
        **overrides,
    }
    return load_content(ContentSource(**values))  # type: ignore[arg-type]


def page(result: LoadResult, rel: str) -> Article:
    return next(a for a in result.articles if a.rel == rel)


def text_of(article: Article) -> str:
    return "\n".join(s.text for s in article.sections)


def lines_of(article: Article) -> list[tuple[str, bool]]:
    return [
        (line, prose)
        for section in article.sections
        for line, prose in zip(section.text.split("\n"), section.prose, strict=True)
    ]


def test_detected_from_its_config_in_a_parent_and_its_settings_read_as_text(
    tmp_path: Path,
) -> None:
    write(tmp_path, {".vitepress/config.mts": CONFIG, "guide/a.md": "# A\n\nText here.\n"})
    site = load(tmp_path, tmp_path / "guide").site
    assert site.format is DocsFormat.VITEPRESS
    assert site.reason == "found .vitepress/config.mts"
    options = read_options(tmp_path / ".vitepress/config.mts", tmp_path)
    assert options["clean_urls"] is True
    assert options["base"] == "/docs/"  # not the sidebar's, not the comment's
    assert options["rewrites"] == [
        ["old/place.md", "new/place.md"],
        ["packages/:pkg/src/(.*)", ":pkg/index.md"],
    ]
    assert options["exclude"] == ["**/drafts/**", "/notes.md"]
    # srcExclude globs are from srcDir: a content folder inside it keeps what names it
    inside = read_options(tmp_path / ".vitepress/config.mts", tmp_path / "guide")
    assert inside["exclude"] == ["**/drafts/**"]
    assert read_options(None, tmp_path)["clean_urls"] is False  # VitePress' default
    keys = config_keys(CONFIG)
    assert keys["title"] == "'Example: docs'" and "Vite" not in keys


def test_a_tree_without_its_config_is_detected_from_its_syntax(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "a.md": "# A\n\n::: tip\nHello there.\n:::\n",
            "b.md": "# B\n\n::: code-group\n```sh [npm]\nnpm i\n```\n:::\n",
        },
    )
    site = load(tmp_path).site
    assert (site.format, site.detected_by) == (DocsFormat.VITEPRESS, "syntax")


def test_page_urls_clean_or_html_index_folders_rewrites_and_src_exclude(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            ".vitepress/config.ts": CONFIG,
            "index.md": "# Home\n\nWelcome to the docs.\n",
            "guide/index.md": "# Guide\n\nStart here.\n",
            "guide/features.md": "# Features\n\nAll of them.\n",
            "old/place.md": "# Place\n\nMoved.\n",
            "packages/core/src/readme.md": "# Core\n\nThe core package.\n",
            "drafts/wip.md": "# WIP\n\nNot yet.\n",
            "notes.md": "# Notes\n\nPrivate.\n",
            "sub/notes.md": "# Sub notes\n\nPublished.\n",
        },
    )
    result = load(tmp_path)
    urls = {a.rel: a.url for a in result.articles}
    assert urls == {
        "index.md": f"{SITE}/",
        "guide/index.md": f"{SITE}/guide/",
        "guide/features.md": f"{SITE}/guide/features",
        "old/place.md": f"{SITE}/new/place",
        "packages/core/src/readme.md": f"{SITE}/core/",
        "sub/notes.md": f"{SITE}/sub/notes",
    }
    options = {"clean_urls": False}
    assert site_path(PurePosixPath("guide/features.md"), {}, options) == "guide/features.html"
    assert site_path(PurePosixPath("config/index.md"), {}, options) == "config/"


def test_src_dir_inside_the_content_folder(tmp_path: Path) -> None:
    config = "export default {\n  srcDir: './src',\n  cleanUrls: true,\n}\n"
    write(
        tmp_path,
        {
            ".vitepress/config.js": config,
            "src/guide/a.md": "# A\n\nPage text.\n",
            "README.md": "# Repo readme\n\nNot a page.\n",
            "scripts/notes.md": "# Notes\n\nNot a page either.\n",
        },
    )
    result = load(tmp_path)
    assert [(a.rel, a.url) for a in result.articles] == [("src/guide/a.md", f"{SITE}/guide/a")]


@pytest.mark.parametrize(
    ("heading", "anchor"),
    [
        ("server.host", "server-host"),
        ("`index.html` and Project Root", "index-html-and-project-root"),
        ("Лед üäöß", "лед-uaoß"),
        ("ǆℍΩ", "dzhω"),
        ("¼", "_1⁄4"),
        ("hambúrguer", "hamburguer"),
        ("What's new? (v2)", "what-s-new-v2"),
        ("5 Things", "_5-things"),
    ],
)
def test_slugify_as_mdit_vue(heading: str, anchor: str) -> None:
    assert slugify(heading) == anchor


def test_anchors_count_every_heading_and_leave_inline_html_out(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            ".vitepress/config.ts": "export default { cleanUrls: true }\n",
            "page.md": (
                "# Options\n\nIntro text.\n\n"
                "## Options\n\nSecond.\n\n"
                "## input <NonInheritBadge />\n\nInput.\n\n"
                '## Target Change [<Badge text="NRV" type="warning" />](#options)\n\nNRV.\n\n'
                "## a &lt; b\n\nEntity.\n\n"
                "::: details\n### Hidden\n:::\n\n"
                "## Hidden\n\nAfter.\n\n"
                "## Custom {#my-id}\n\nCustom.\n"
            ),
            "other.md": "# Other\n\nSee [it](./page#options) and [that](./page#options-1).\n",
        },
    )
    result = load(tmp_path)
    sections = page(result, "page.md").sections
    assert [(s.anchor, s.heading) for s in sections[1:]] == [
        ("options-1", "Options"),
        ("input", "input"),
        ("target-change", "Target Change NRV"),  # the badge shows, the anchor leaves it out
        ("a-lt-b", "a < b"),  # VitePress slugs entities as written
        ("hidden-1", "Hidden"),  # the H3 inside the container took "hidden"
        ("my-id", "Custom"),
    ]
    assert sections[0].ids == ("options",)  # the title H1's own id lands on the page
    pages, _ = load_pages(ContentSource(tmp_path, docs_root=tmp_path, site_url=SITE))
    report = check_links(pages, SITE)
    assert (report.landed, report.missed, report.dead) == (3, [], [])


def test_containers_keep_an_explicit_title_and_not_the_default(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            ".vitepress/config.ts": "export default {}\n",
            "page.md": (
                "# Page\n\n"
                "::: tip\nA plain tip.\n:::\n\n"
                "::: warning Mind this\nA titled warning.\n:::\n\n"
                ":::: details Click me\nOuter.\n::: info\nInner.\n:::\n::::\n"
            ),
        },
    )
    text = text_of(page(load(tmp_path), "page.md"))
    assert text.split("\n") == [
        "A plain tip.",
        "Mind this",
        "A titled warning.",
        "Click me",
        "Outer.",
        "Inner.",
    ]


def test_code_groups_keep_each_label_beside_its_own_block(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            ".vitepress/config.ts": "export default {}\n",
            "page.md": (
                "# Install\n\n"
                "::: code-group\n\n"
                "```sh [npm]\n$ npm add -D vite\n```\n\n"
                "```sh [Yarn]\n$ yarn add -D vite\n```\n\n"
                ":::\n\n"
                "```[.env]\nVITE_KEY=1\n```\n\n"
                "```js{1,3} [vite.config.js]\nexport default {}\n```\n"
            ),
        },
    )
    result = load(tmp_path)
    assert lines_of(page(result, "page.md")) == [
        ("npm", False),
        ("$ npm add -D vite", False),
        ("Yarn", False),
        ("$ yarn add -D vite", False),
        (".env", False),
        ("VITE_KEY=1", False),
        ("vite.config.js", False),
        ("export default {}", False),
    ]
    pages, _ = load_pages(ContentSource(tmp_path, docs_root=tmp_path, site_url=SITE))
    fences = [t for t in pages[0].tokens if t.type == "fence"]
    assert [(t.info, t.meta.get("label")) for t in fences] == [
        ("sh", "npm"),
        ("sh", "Yarn"),
        ("", ".env"),
        ("js", "vite.config.js"),
    ]


def test_fence_language_as_vitepress_extracts_it() -> None:
    assert fence_language("js{12-15} twoslash [server.js]") == "js"
    assert fence_language("ts:line-numbers {1}") == "ts"
    assert fence_language("vue-html") == "template"
    assert fence_language("[.env]") == ""


def test_twoslash_shows_what_twoslash_shows() -> None:
    code = (
        "// @noErrors\n"
        "import 'vite/client'\n"
        "// ---cut---\n"
        "// @errors: 2339\n"
        "const a = 1\n"
        "//    ^?\n"
        "// @filename: b.ts\n"
        "// ---cut-start---\n"
        "hidden()\n"
        "// ---cut-end---\n"
        "shown()\n"
        "// ---cut-after---\n"
        "}\n"
    )
    assert twoslash_visible(code) == "const a = 1\n// @filename: b.ts\nshown()"


def test_twoslash_only_in_twoslash_fences(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            ".vitepress/config.ts": "export default {}\n",
            "page.md": (
                "# Page\n\n"
                "```ts twoslash [vite.config.ts]\nimport x from 'y'\n// ---cut---\nuse(x)\n```\n\n"
                "```md\n// ---cut---\nshown as written\n```\n"
            ),
        },
    )
    assert text_of(page(load(tmp_path), "page.md")).split("\n") == [
        "vite.config.ts",
        "use(x)",
        "// ---cut---",
        "shown as written",
    ]


def test_snippet_imports_read_regions_or_are_dropped_with_a_warning(tmp_path: Path) -> None:
    workflow = (
        "# header comment\n#region content\nname: Deploy\n  # indented\njobs: {}\n"
        "#endregion content\n"
    )
    source = (
        "// #region setup\n  const a = 1\n  // #region inner\n  use(a)\n"
        "  // #endregion inner\n// #endregion setup\n"
    )
    write(
        tmp_path,
        {
            ".vitepress/config.ts": "export default { srcDir: 'docs' }\n",
            "docs/guide/deploy.yaml": workflow,
            "docs/snippets/app.ts": source,
            "docs/guide/page.md": (
                "# Page\n\n"
                "1. Step\n\n   <<< ./deploy.yaml#content [.github/workflows/deploy.yml]\n\n"
                "<<< @/snippets/app.ts#setup{1 ts}\n\n"
                "<<< ./missing.js\n\n"
                "<<< ./deploy.yaml#nope\n\n"
                "Done.\n"
            ),
        },
    )
    result = load(tmp_path, tmp_path / "docs")
    assert lines_of(page(result, "guide/page.md")) == [
        ("Step", True),
        (".github/workflows/deploy.yml", False),
        ("name: Deploy", False),
        ("  # indented", False),
        ("jobs: {}", False),
        ("app.ts", False),
        ("const a = 1", False),
        ("use(a)", False),
        ("Done.", True),
    ]
    messages = [w.message for w in result.warnings if w.path == "guide/page.md"]
    assert any("'./missing.js' was not found" in m for m in messages)
    assert any("no region 'nope'" in m for m in messages)


def test_find_regions_as_vitepress() -> None:
    lines = [
        "a",
        "// #region x",
        "b",
        "/* #region x */",
        "c",
        "/* #endregion x */",
        "// #endregion x",
    ]
    assert find_regions(lines, "x") == [(2, 6, 0)]  # the outermost one
    parsed = parse_snippet(" ./a b/file.ts#region{1,2 ts twoslash} [My file]")
    assert parsed == {
        "path": "./a b/file.ts",
        "region": "region",
        "lang": "ts",
        "attrs": "twoslash",
        "title": "My file",
    }


def test_markdown_includes(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            ".vitepress/config.ts": "export default {}\n",
            "parts/basics.md": (
                "---\ntitle: x\n---\n## Basics\n\nShared text.\n"
                "<!-- #region tail -->\nTail text.\n<!-- #endregion tail -->\n"
            ),
            "page.md": (
                "# Page\n\n<!--@include: ./parts/basics.md-->\n\n"
                "<!-- @include: ./parts/basics.md#tail -->\n\n"
                "<!--@include: ./parts/gone.md-->\n"
            ),
        },
    )
    result = load(tmp_path, exclude=("parts/",))
    article = page(result, "page.md")
    assert [s.heading for s in article.sections] == ["Page", "Basics"]
    assert article.sections[1].text.split("\n") == ["Shared text.", "Tail text.", "Tail text."]
    assert any("gone.md" in w.message for w in result.warnings)


def test_vue_reduced_to_what_the_page_shows(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            ".vitepress/config.ts": "export default {}\n",
            "page.md": (
                "---\ntitle: Team\n---\n\n"
                "<script setup>\nimport { data } from './data'\nconst x = 1\n</script>\n\n"
                "[[toc]]\n\n"
                "Hello {{ $frontmatter.title }} world.\n\n"
                '<ScrimbaLink href="https://x.test" title="T">Watch a lesson</ScrimbaLink>\n\n'
                'Supported since <Badge type="tip" text="^3.2" /> and later.\n\n'
                "<VPTeamPage>\n  <template #title>Meet the Team</template>\n"
                '  <p v-for="d in data">{{ d.name }}</p>\n</VPTeamPage>\n\n'
                "<style scoped>\n.a { color: red }\n</style>\n"
            ),
        },
    )
    result = load(tmp_path)
    assert text_of(page(result, "page.md")).split("\n") == [
        "Hello world.",
        "Watch a lesson",
        "Supported since ^3.2 and later.",
        "Meet the Team",
    ]
