"""Every vendored real docs tree (eval/corpora/), parsed as the index parses it: the
generator detected from its own config, every page loaded, no generator syntax in what is
indexed, and the docs' own cross-links landing on a page URL and section anchor the
service cites (>= 99%; the docs' own dead links are reported apart, not counted)."""

from __future__ import annotations

import pytest

from ingest.articles import ContentSource, make_loader
from ingest.discovery import discover
from ingest.linkcheck import check_links, load_pages
from ingest.markers import markers_in
from kbcli.corpora import CORPORA, Corpus


@pytest.mark.parametrize("corpus", CORPORA, ids=[c.name for c in CORPORA])
def test_corpus_indexes_untouched_with_its_links_landing(corpus: Corpus) -> None:
    source = ContentSource(content_dir=corpus.content, docs_root=corpus.root, site_url=corpus.site)
    site = make_loader(source, discover(corpus.content).files).site
    pages, failed = load_pages(source)
    assert failed == []
    assert site.format.value == corpus.generator, site.reason
    assert markers_in(pages)[:10] == []
    links = check_links(pages, corpus.site)
    misses = [f"{link.page}:{link.line} {link.href} ({why})" for link, why in links.missed]
    assert links.rate >= 0.99, misses[:20]
    assert links.landed >= 50  # the check follows links at all
