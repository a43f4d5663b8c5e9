"""The link checker follows a tree's own links as the published site would, and tells the
service's misses from the docs' own dead links."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from ingest.articles import ContentSource
from ingest.dialects import DocsFormat
from ingest.linkcheck import check_links, load_pages

SITE = "https://example.test/docs"


def _tree(root: Path) -> ContentSource:
    (root / "guide").mkdir(parents=True)
    (root / "a.md").write_text(
        "# A\n\n## First part\n\n"
        "[ok](guide/b.md#second-part) [page](guide/b.md) [here](#first-part)\n"
        "[site](/docs/guide/b#second-part) [relative](guide/b#second-part)\n"
        "[spelled](guide/b.md#second_part) [gone](guide/b.md#no-such-heading)\n"
        "[moved](guide/b.md#only-in-c) [nopage](guide/zzz.md) [external](https://x.org/#a)\n"
        "[image](img/logo.png)\n",
        encoding="utf-8",
    )
    (root / "guide" / "b.md").write_text("# B\n\n## Second part\n\ntext\n", encoding="utf-8")
    (root / "c.md").write_text("# C\n\n## Only in C\n\ntext\n", encoding="utf-8")
    return ContentSource(
        content_dir=root, docs_root=root, site_url=SITE, docs_format=DocsFormat.DOCUSAURUS
    )


def test_each_link_is_landed_missed_dead_or_moved(tmp_path: Path) -> None:
    pages, failed = load_pages(_tree(tmp_path))
    assert failed == [] and len(pages) == 3
    report = check_links(pages, SITE)
    assert report.landed == 5  # file link, page link, same page, site-absolute, relative URL
    assert [link.href for link, _ in report.missed] == ["guide/b.md#second_part"]
    assert sorted(link.href for link, _ in report.dead) == [
        "guide/b.md#no-such-heading",
        "guide/zzz.md",
    ]
    assert [link.href for link, _ in report.moved] == ["guide/b.md#only-in-c"]
    assert report.checked == 9
    assert report.rate == 5 / 6


def test_a_wrong_url_rule_is_a_miss_not_a_dead_link(tmp_path: Path) -> None:
    elsewhere = "https://example.test/other"
    source = replace(_tree(tmp_path), site_url=elsewhere)
    pages, _ = load_pages(source)
    # Our URLs say the pages are elsewhere than the docs' own links say: a miss.
    report = check_links(pages, elsewhere)
    hrefs = [link.href for link, _ in report.missed]
    assert "/docs/guide/b#second-part" in hrefs
