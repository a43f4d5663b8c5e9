"""The knowledge-base content itself: front matter, structure, links, and the golden set."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

from ingest.articles import Article, load_content
from ingest.discovery import discover
from tests.conftest import CONTENT

TOPICS = {"fine-tuning", "rag", "prompting"}
LINK = re.compile(r"\]\((/learn/[^)\s]+)\)")


@pytest.fixture(scope="module")
def articles() -> list[Article]:
    result = load_content(CONTENT)
    # The authors' guide (README.md) is a draft by design; everything else indexes cleanly.
    assert [s.path for s in result.skipped] == ["README.md"], result.skipped
    assert result.warnings == [], result.warnings
    return result.articles


def _split(path: Path) -> tuple[dict[str, Any], str]:
    _, front, body = path.read_text().split("---\n", 2)
    data = yaml.safe_load(front)
    assert isinstance(data, dict), path.name
    return data, body


def _article_files() -> list[Path]:
    return [f.path for f in discover(CONTENT).files if f.path.name != "README.md"]


def test_every_article_has_complete_front_matter(articles: list[Article]) -> None:
    files = _article_files()
    assert len(articles) == len(files) >= 15
    for path in files:
        data, _ = _split(path)
        assert {"title", "slug", "summary", "tags", "updated"} <= data.keys(), path.name


def test_topics_are_covered_at_least_five_times_each(articles: list[Article]) -> None:
    counts: Counter[str] = Counter()
    for article in articles:
        topics = TOPICS & set(article.tags)
        assert topics, f"{article.slug} has none of the topic tags {sorted(TOPICS)}"
        counts.update(topics)
    assert all(counts[topic] >= 5 for topic in TOPICS), counts


def test_summary_is_one_sentence_and_slug_matches_file(articles: list[Article]) -> None:
    for article in articles:
        assert article.path.stem == article.slug
        assert article.summary.count(". ") == 0, article.slug


def test_length_is_between_500_and_1500_words() -> None:
    for path in _article_files():
        words = len(_split(path)[1].split())
        assert 500 <= words <= 1500, (path.name, words)


def test_slugs_are_unique(articles: list[Article]) -> None:
    slugs = [a.slug for a in articles]
    assert len(slugs) == len(set(slugs))


def test_anchors_are_unique_within_each_article(articles: list[Article]) -> None:
    for article in articles:
        anchors = [s.anchor for s in article.sections if s.level > 0]
        assert len(anchors) == len(set(anchors)), article.slug


def test_each_article_has_h2_sections_and_an_faq_of_questions(articles: list[Article]) -> None:
    for article in articles:
        h2 = [s for s in article.sections if s.level == 2]
        assert len(h2) >= 4, article.slug
        assert any(s.heading == "FAQ" for s in h2), f"{article.slug} has no ## FAQ"
        faq = [s for s in article.sections if s.kind == "faq"]
        assert len(faq) >= 3, article.slug
        for entry in faq:
            assert entry.heading.endswith("?"), (article.slug, entry.heading)
            assert entry.text.strip(), (article.slug, entry.heading)
        assert not any(s.level == 1 for s in article.sections), f"{article.slug} has an H1"


def test_internal_links_resolve(articles: list[Article]) -> None:
    anchors = {a.slug: {s.anchor for s in a.sections} for a in articles}
    checked = 0
    for article in articles:
        for link in LINK.findall(article.path.read_text()):
            slug, _, anchor = link.removeprefix("/learn/").partition("#")
            assert slug in anchors, f"{article.slug}: broken link {link}"
            if anchor:
                assert anchor in anchors[slug], f"{article.slug}: broken anchor {link}"
            checked += 1
    assert checked > 0


def test_fine_tuning_articles_carry_the_source_figures(articles: list[Article]) -> None:
    text = " ".join(s.text for a in articles if "fine-tuning" in a.tags for s in a.sections).lower()
    for figure in [
        "$50-500",
        "3-5",
        "$150-2,500",
        "20-40 hours",
        "a day or two",
        "500 real support",
        "200 examples",
        "learning rate",
        "epochs",
        "batch size",
        "checkpoint",
        "gpt-4o-mini",
        "gpt-4o",
        "anthropic",
        "llama 3",
        "mistral",
        "medical coding",
        "legal citation",
        "technical specifications",
        "brand voice",
        "fewer than 5%",
        "more than 50",
        "three",
        "hallucinat",
        "retrain",
    ]:
        assert figure in text, figure


def test_golden_set_shape(golden: list[dict[str, Any]], articles: list[Article]) -> None:
    keys = {"id", "question", "answerable", "article", "anchor", "facts", "follow_up_of"}
    assert all(set(q) == keys for q in golden if q["answerable"])
    # An unanswerable question says which kind it is: a near miss or off topic.
    assert all(
        set(q) == keys | {"kind"} and q["kind"] in ("near_miss", "off_topic")
        for q in golden
        if not q["answerable"]
    )
    ids = [q["id"] for q in golden]
    assert len(ids) == len(set(ids))
    answerable = [q for q in golden if q["answerable"]]
    assert len(golden) >= 80 and len(answerable) >= 60
    assert len(golden) - len(answerable) >= 20
    follow_ups = [q for q in golden if q["follow_up_of"]]
    assert len(follow_ups) >= 5
    by_id = {q["id"]: q for q in golden}
    assert all(by_id[q["follow_up_of"]]["answerable"] for q in follow_ups)
    assert {q["article"] for q in answerable} == {a.slug for a in articles}
    for q in golden:
        if not q["answerable"]:
            assert q["article"] == "" and q["anchor"] == "" and q["facts"] == []


def test_golden_targets_and_facts_exist(
    golden: list[dict[str, Any]], articles: list[Article]
) -> None:
    sections = {(a.slug, s.anchor): s for a in articles for s in a.sections}
    for q in golden:
        if not q["answerable"]:
            continue
        section = sections.get((q["article"], q["anchor"]))
        assert section is not None, f"{q['id']}: no section {q['article']}#{q['anchor']}"
        assert 1 <= len(q["facts"]) <= 3, q["id"]
        for fact in q["facts"]:
            assert fact.lower() in section.text.lower(), f"{q['id']}: '{fact}' not in section"


def test_golden_questions_are_mostly_not_headings(
    golden: list[dict[str, Any]], articles: list[Article]
) -> None:
    def norm(text: str) -> str:
        return re.sub(r"[^a-z0-9 ]", "", text.lower()).strip()

    headings = {norm(s.heading) for a in articles for s in a.sections}
    answerable = [q for q in golden if q["answerable"]]
    unlike = [q for q in answerable if norm(q["question"]) not in headings]
    assert len(unlike) >= len(answerable) / 2
