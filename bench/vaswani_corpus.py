"""The Vaswani (NPL) collection as the project sees it: one Markdown article per abstract.

Shared by the benchmarks; writes the articles once into a cache folder.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

DATASET = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "vaswani"
DOC_SHA256 = "117ae7491647cb9725621bad52969a78307de19b1757852a0a2383659a856d36"
CACHE = Path(__file__).resolve().parent / ".cache"

_DOC = re.compile(r"<DOC>\s*<DOCNO>\s*(\d+)\s*</DOCNO>(.*?)</DOC>", re.S)
_QUERY = re.compile(r"<num>\s*(\d+)\s*</num>\s*<title>(.*?)</title>", re.S)


@dataclass(frozen=True)
class Vaswani:
    docs: dict[str, str]
    queries: dict[str, str]
    qrels: dict[str, set[str]]


def dataset_dir() -> Path:
    for candidate in (DATASET, Path("/work/shared/datasets/vaswani")):
        if (candidate / "doc-text.trec").is_file():
            return candidate
    raise SystemExit("Vaswani dataset not found (expected ../shared/datasets/vaswani)")


def load() -> Vaswani:
    folder = dataset_dir()
    raw = (folder / "doc-text.trec").read_bytes()
    if hashlib.sha256(raw).hexdigest() != DOC_SHA256:
        raise SystemExit("doc-text.trec does not match its published sha256")
    docs = {m.group(1): " ".join(m.group(2).split()) for m in _DOC.finditer(raw.decode())}
    queries = {
        m.group(1): " ".join(m.group(2).split()).lower()
        for m in _QUERY.finditer((folder / "query-text.trec").read_text())
    }
    qrels: dict[str, set[str]] = {}
    for line in (folder / "qrels").read_text().splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[3] != "0":
            qrels.setdefault(parts[0], set()).add(parts[2])
    return Vaswani(docs=docs, queries=queries, qrels=qrels)


def slug(docno: str) -> str:
    return f"npl-{docno}"


def write_articles(corpus: Vaswani, folder: Path | None = None) -> Path:
    """One Markdown file per abstract (front matter + the abstract as the body)."""
    folder = folder or CACHE / "vaswani-content"
    marker = folder / ".complete"
    if marker.is_file() and marker.read_text() == str(len(corpus.docs)):
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    for docno, text in corpus.docs.items():
        (folder / f"{slug(docno)}.md").write_text(
            f"---\ntitle: '{docno}'\nslug: {slug(docno)}\nsummary: NPL abstract {docno}.\n"
            f"tags: [npl]\nupdated: 1970-01-01\n---\n\n{text}\n"
        )
    marker.write_text(str(len(corpus.docs)))
    return folder
