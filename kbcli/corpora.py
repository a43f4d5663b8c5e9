"""The real docs trees vendored in ``eval/corpora/`` (copied untouched from their
projects), with where each one's content folder and docs root are."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ingest.discovery import MARKDOWN_SUFFIXES

ROOT = Path(__file__).resolve().parents[1]
TREES = ROOT / "eval" / "corpora"


@dataclass(frozen=True)
class Corpus:
    """One vendored tree: its name, content folder and docs root (includes, config)."""

    name: str
    content: Path
    root: Path
    generator: str
    site: str  # where the project publishes it (KB_SITE_URL: the content folder's root)

    def files(self) -> int:
        """Markdown/MDX files under the content folder."""
        return sum(
            1
            for path in self.content.rglob("*")
            if path.suffix in MARKDOWN_SUFFIXES and path.is_file()
        )


def _corpus(name: str, generator: str, site: str, content: str = "") -> Corpus:
    root = TREES / name
    return Corpus(name, root / content if content else root, root, generator, site)


CORPORA = (
    _corpus("pydantic-docs", "mkdocs", "https://docs.pydantic.dev/latest"),
    _corpus("prettier-docs", "docusaurus", "https://prettier.io/docs"),
    _corpus("vite-docs", "vitepress", "https://vite.dev"),
    _corpus("starlight-docs", "starlight", "https://starlight.astro.build", "src/content/docs"),
    _corpus("mystmd-docs", "myst", "https://mystmd.org/guide"),
    _corpus("jekyll-docs", "jekyll", "https://jekyllrb.com", "_docs"),
    _corpus("mintlify-docs", "mintlify", "https://mintlify.com/docs"),
)
