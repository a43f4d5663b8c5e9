"""Parsing real-world Markdown into sections with GitHub anchors and plain text."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.anchors import AnchorSlugger, anchor_base
from ingest.articles import load_article, load_content
from ingest.markdown import build_parser
from ingest.sections import PageSections, split_sections


def parse_sections(body: str, title: str | None) -> PageSections:
    return split_sections(build_parser().parse(body, {}), title)


@pytest.mark.parametrize(
    ("heading", "anchor"),
    [
        ("How much does fine-tuning cost?", "how-much-does-fine-tuning-cost"),
        ("Is $50-500 per run realistic?", "is-50-500-per-run-realistic"),
        ("RAG vs. fine-tuning: which first?", "rag-vs-fine-tuning-which-first"),
        ("What is nDCG@10", "what-is-ndcg10"),
        ('Zero-shot CoT: "Let\'s think step by step"', "zero-shot-cot-lets-think-step-by-step"),
        ("Über Größe – naïve café", "über-größe--naïve-café"),
        ("snake_case  two spaces", "snake_case--two-spaces"),
    ],
)
def test_anchor_follows_github_rules(heading: str, anchor: str) -> None:
    assert anchor_base(heading) == anchor


def test_repeated_headings_get_numbered_anchors() -> None:
    slugger = AnchorSlugger()
    assert [slugger.slug(h) for h in ["Example", "Example", "Example", "Example 1"]] == [
        "example",
        "example-1",
        "example-2",
        "example-1-1",
    ]


def test_hash_inside_code_fence_is_not_a_heading_and_code_is_kept() -> None:
    body = "Intro.\n\n## Setup\n\n```bash\n# install it\npip install kb\n```\n\n## Next\n\nDone."
    sections = parse_sections(body, "T").sections
    assert [s.anchor for s in sections] == ["", "setup", "next"]
    assert "# install it\npip install kb" in sections[1].text


def test_markup_is_removed_but_text_tables_lists_and_html_remain() -> None:
    body = (
        "## Mixed\n\n"
        "Some **bold**, `code` and a [link](https://example.com).\n\n"
        "- outer\n  - nested *item*\n1. first\n\n"
        "| Model | Dims |\n|---|---|\n| MiniLM | 384 |\n\n"
        '<div class="note">An <b>HTML</b> block<script>alert(1)</script></div>\n\n'
        "> quoted text\n"
    )
    text = parse_sections(body, "T").sections[1].text
    assert "Some bold, code and a link." in text
    assert "nested item" in text and "outer" in text and "first" in text
    # A table keeps its header row and its rows as the page shows them, cells in order.
    assert "Model | Dims\nMiniLM | 384" in text
    assert "An HTML block" in text and "alert" not in text
    assert "quoted text" in text
    assert "**" not in text and "](" not in text and "<div" not in text


def test_heading_path_and_faq_kind() -> None:
    body = "## Costs\n\n### Per run\n\nA run costs $50-500.\n\n## FAQ\n\n### Is it cheap?\n\nNo."
    sections = parse_sections(body, "Fine-Tuning").sections
    per_run = next(s for s in sections if s.anchor == "per-run")
    assert per_run.heading_path == "Fine-Tuning > Costs > Per run"
    faq = next(s for s in sections if s.anchor == "is-it-cheap")
    assert faq.kind == "faq" and faq.heading_path == "Fine-Tuning > FAQ > Is it cheap?"
    assert per_run.kind == "section"


def test_file_without_front_matter_takes_title_from_h1_and_slug_from_name(tmp_path: Path) -> None:
    path = tmp_path / "My_Notes.md"
    path.write_text("# Vector Search Notes\n\nIntro paragraph.\n\n## Cosine\n\nAngles.\n")
    article = load_article(path)
    assert article is not None
    assert article.title == "Vector Search Notes" and article.slug == "My_Notes"
    assert [s.anchor for s in article.sections] == ["", "cosine"]
    assert article.sections[0].text == "Intro paragraph."


def test_non_ascii_is_preserved(tmp_path: Path) -> None:
    path = tmp_path / "unicode.md"
    path.write_text("## Über RAG — 日本語\n\nCafé naïve ✓ 检索增强生成.\n", encoding="utf-8")
    article = load_article(path)
    assert article is not None
    section = article.sections[1]
    assert section.anchor == "über-rag--日本語"
    assert "检索增强生成" in section.text


def test_empty_and_whitespace_files_are_reported_not_dropped(tmp_path: Path) -> None:
    (tmp_path / "empty.md").write_text("")
    (tmp_path / "blank.md").write_text("\n  \n")
    (tmp_path / "ok.md").write_text("Some text.\n")
    result = load_content(tmp_path)
    assert [a.slug for a in result.articles] == ["ok"]
    assert {s.path: s.reasons for s in result.skipped} == {
        "blank.md": ("the file is empty",),
        "empty.md": ("the file is empty",),
    }


def test_malformed_file_is_reported_and_others_still_load(tmp_path: Path) -> None:
    (tmp_path / "good.md").write_text("Fine.\n")
    (tmp_path / "bad.md").write_text("---\ntitle: [broken\n---\nx\n")
    (tmp_path / "latin1.md").write_bytes("ok\ncaf\xe9\nfine\nna\xefve".encode("latin-1"))
    result = load_content(tmp_path)
    assert [a.slug for a in result.articles] == ["good"]
    reasons = {s.path: " ".join(s.reasons) for s in result.skipped}
    assert "YAML" in reasons["bad.md"] and "line 2" in reasons["bad.md"]
    assert "UTF-8" in reasons["latin1.md"] and "line(s) 2, 4" in reasons["latin1.md"]


def test_same_file_names_in_different_folders_both_index(tmp_path: Path) -> None:
    front = "---\ntitle: A\nslug: same\n---\nText.\n"
    for folder in ("api", "concepts"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "fields.md").write_text(front)
        (tmp_path / folder / "index.md").write_text("# Section home\n\nIntro.\n")
    result = load_content(tmp_path)
    assert sorted(a.slug for a in result.articles) == [
        "api",
        "api/fields",
        "concepts",
        "concepts/fields",
    ]
    assert result.skipped == [] and result.warnings == []


def test_readme_names_its_folder_and_index_wins_over_it(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("# Project\n\nOverview.\n")
    (tmp_path / "guide").mkdir()
    (tmp_path / "guide" / "README.md").write_text("# Guide readme\n\nText.\n")
    (tmp_path / "guide" / "index.md").write_text("# Guide\n\nText.\n")
    result = load_content(tmp_path)
    slugs = {a.rel: a.slug for a in result.articles}
    assert slugs == {
        "README.md": "index",
        "guide/index.md": "guide",
        "guide/README.md": "guide/README",
    }
    assert [w.path for w in result.warnings] == ["guide/README.md"]
