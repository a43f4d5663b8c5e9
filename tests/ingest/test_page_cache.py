"""A long-running service re-parses only the pages whose files (or included files, or site
settings) changed, and the result is the same as parsing everything again."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from ingest.articles import Article, ContentSource, LoadResult, load_content
from ingest.page_cache import PageCache

SITE = Path(__file__).resolve().parents[1] / "fixtures" / "docs" / "mkdocs-site"


def _copy(tmp_path: Path) -> ContentSource:
    shutil.copytree(SITE, tmp_path / "site")
    return ContentSource(content_dir=tmp_path / "site" / "docs", docs_root=tmp_path / "site")


def _by_slug(result: LoadResult) -> dict[str, Article]:
    return {a.slug: a for a in result.articles}


def _touch_later(path: Path, text: str) -> None:
    """Rewrite a file so that its size or modification time surely differ."""
    before = path.stat().st_mtime_ns
    path.write_text(text)
    os.utime(path, ns=(before + 10**9, before + 10**9))


def _same_as_fresh(result: LoadResult, source: ContentSource) -> None:
    fresh = load_content(source)
    assert result.articles == fresh.articles
    assert [s.to_json() for s in result.skipped] == [s.to_json() for s in fresh.skipped]
    assert [w.to_json() for w in result.warnings] == [w.to_json() for w in fresh.warnings]


def test_unchanged_pages_are_reused_and_an_edited_one_is_parsed_again(tmp_path: Path) -> None:
    source = _copy(tmp_path)
    cache = PageCache()
    first = _by_slug(load_content(source, cache=cache))
    assert len(cache) == len(first) == 3
    again = _by_slug(load_content(source, cache=cache))
    assert all(again[slug] is first[slug] for slug in first)  # nothing parsed again

    usage = source.content_dir / "guide" / "usage.md"
    _touch_later(usage, usage.read_text() + "\nA sentence added by the edit.\n")
    result = load_content(source, cache=cache)
    edited = _by_slug(result)
    assert edited["guide/usage"] is not first["guide/usage"]
    assert "A sentence added by the edit." in edited["guide/usage"].sections[-1].text
    assert edited["index"] is first["index"] and edited["guide"] is first["guide"]
    _same_as_fresh(result, source)


def test_a_page_is_parsed_again_when_a_file_it_includes_changes(tmp_path: Path) -> None:
    source = _copy(tmp_path)
    cache = PageCache()
    first = _by_slug(load_content(source, cache=cache))
    snippet = tmp_path / "site" / "snippets" / "shared.md"
    _touch_later(snippet, "Shared snippet text: widgets are now asynchronous.\n")
    result = load_content(source, cache=cache)
    pages = _by_slug(result)
    assert pages["index"] is not first["index"]
    text = "\n".join(s.text for s in pages["index"].sections)
    assert "widgets are now asynchronous" in text
    assert pages["guide/usage"] is first["guide/usage"]
    _same_as_fresh(result, source)


def test_deleted_pages_leave_and_new_settings_parse_everything(tmp_path: Path) -> None:
    source = _copy(tmp_path)
    cache = PageCache()
    first = _by_slug(load_content(source, cache=cache))
    (source.content_dir / "guide" / "usage.md").unlink()
    result = load_content(source, cache=cache)
    assert set(_by_slug(result)) == {"index", "guide"}
    assert len(cache) == 2
    _same_as_fresh(result, source)

    published = ContentSource(
        content_dir=source.content_dir,
        docs_root=source.docs_root,
        site_url="https://docs.example.org/",
    )
    moved = _by_slug(load_content(published, cache=cache))
    assert moved["index"] is not first["index"]
    assert moved["guide"].url.startswith("https://docs.example.org/")


def test_a_refused_page_stays_refused_until_it_is_fixed(tmp_path: Path) -> None:
    source = _copy(tmp_path)
    broken = source.content_dir / "broken.md"
    broken.write_text("---\ntitle: [unclosed\n---\nText.\n")
    cache = PageCache()
    first = load_content(source, cache=cache)
    assert [s.path for s in first.skipped] == ["broken.md"]
    again = load_content(source, cache=cache)
    assert [s.to_json() for s in again.skipped] == [s.to_json() for s in first.skipped]
    _touch_later(broken, "---\ntitle: Fixed\n---\nText.\n")
    fixed = load_content(source, cache=cache)
    assert not fixed.skipped
    assert _by_slug(fixed)["broken"].title == "Fixed"
