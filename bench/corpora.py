"""Every real docs tree in eval/corpora/, loaded as a site owner would point the service at it.

Prints per corpus: files, pages indexed, skipped, the dialect detected and why, sections,
the link check (the docs' own cross-links landing on a URL and anchor the service cites;
dead links apart) and generator markers left in indexed prose. ``--ingest`` also indexes
each tree for real (bundled embedder, embedded Qdrant) and adds chunks and ingest time.

    python bench/corpora.py [--ingest] [--only NAME ...] [--show N]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

# Run as a script, Python puts bench/ first on the path, where this file would shadow the
# `ingest` package: put the repository root there instead.
sys.path[0] = str(Path(__file__).resolve().parents[1])

from ingest.articles import ContentSource  # noqa: E402
from ingest.linkcheck import check_links, load_pages  # noqa: E402
from ingest.markers import markers_in  # noqa: E402
from kbcli.corpora import CORPORA, Corpus  # noqa: E402


def _ingest(corpus: Corpus) -> tuple[int, float]:
    from ingest.runner import ingest
    from kbcore.runtime import Runtime
    from kbcore.settings import Settings

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            content_dir=corpus.content,
            docs_root=corpus.root,
            data_dir=Path(tmp),
            canary_questions=0,
        )
        runtime = Runtime.open(settings, scratch=True)
        try:
            start = time.perf_counter()
            report = ingest(runtime)
            return report.chunks, time.perf_counter() - start
        finally:
            runtime.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ingest", action="store_true", help="also index each tree for real")
    parser.add_argument("--only", nargs="*", default=None, help="corpus names")
    parser.add_argument("--show", type=int, default=0, help="print N misses and markers each")
    args = parser.parse_args()
    rows = []
    for corpus in CORPORA:
        if args.only and corpus.name not in args.only:
            continue
        source = ContentSource(
            content_dir=corpus.content, docs_root=corpus.root, site_url=corpus.site
        )
        pages, failed = load_pages(source)
        site = pages[0].article if pages else None
        from ingest.articles import make_loader
        from ingest.discovery import discover

        detected = make_loader(source, discover(corpus.content).files).site
        links = check_links(pages, corpus.site)
        markers = markers_in(pages)
        sections = sum(len(p.article.sections) for p in pages)
        row = [
            corpus.name,
            str(corpus.files()),
            str(len(pages)),
            str(len(failed)),
            f"{detected.format.value} ({detected.detected_by})",
            str(sections),
            links.summary(),
            str(len(markers)),
        ]
        if args.ingest:
            chunks, seconds = _ingest(corpus)
            row += [str(chunks), f"{seconds:.1f} s"]
        rows.append(row)
        print(" | ".join(row), flush=True)
        if args.show:
            for reason in failed[: args.show]:
                print("   skipped:", reason)
            for link, why in links.missed[: args.show]:
                print(f"   missed {link.page}:{link.line} {link.href} -> {why}")
            for link, why in links.dead[: args.show]:
                print(f"   dead {link.page}:{link.line} {link.href} -> {why}")
            for where, text in markers[: args.show]:
                print(f"   marker {where}: {text[:100]}")
        del site
    head = ["corpus", "files", "indexed", "skipped", "dialect", "sections", "links", "markers"]
    if args.ingest:
        head += ["chunks", "ingest"]
    print()
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
