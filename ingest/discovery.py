"""Which files under the content folder are pages, and the slug each one gets.

Every Markdown or MDX file is a page unless an exclude pattern (gitignore syntax,
``KB_EXCLUDE``) matches it. Links are followed only where they stay inside the content
folder (each real folder once); links that leave it, and anything that is not a regular
file (a FIFO, a device), are skipped with the reason, never read.

Slugs come from the path relative to the content folder, so they are unique by
construction: ``tutorial/middleware.md`` -> ``tutorial/middleware``; ``index.md``,
``_index.md`` and ``README.md`` name their folder (in that order of precedence).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import pathspec

from ingest.report import ContentWarning, Skipped

MARKDOWN_SUFFIXES = frozenset({".md", ".mdx", ".markdown"})
DEFAULT_EXCLUDE = ("node_modules/", "_*", "!_index.md")
ALWAYS_EXCLUDED = (".*",)  # hidden files and folders (.git, .github) are never pages
FOLDER_PAGES = ("index", "_index", "readme")  # precedence when several name one folder


@dataclass(frozen=True)
class ContentFile:
    """A page file: where it is on disk and its path relative to the content folder."""

    path: Path
    rel: PurePosixPath
    slug: str
    size: int
    mtime_ns: int = 0


@dataclass
class Discovery:
    """The pages found, and what was passed over and why."""

    files: list[ContentFile] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    warnings: list[ContentWarning] = field(default_factory=list)


def _spec(exclude: Sequence[str]) -> pathspec.GitIgnoreSpec:
    return pathspec.GitIgnoreSpec.from_lines(list(exclude))


def discover(content_dir: Path, exclude: Sequence[str] = DEFAULT_EXCLUDE) -> Discovery:
    """Every page under ``content_dir`` in a stable order, with its slug.

    Real files and folders are walked first; a link is followed afterwards only when its
    target is inside the content folder and was not reached already (so each file is read
    once, whichever way it is reached), and is refused when its target is outside.
    """
    root = content_dir.resolve()
    spec = _spec([*exclude, *ALWAYS_EXCLUDED])
    out = Discovery()
    # real path -> (path, rel, its stat when known)
    found: dict[Path, tuple[Path, PurePosixPath, os.stat_result | None]] = {}
    walked: set[Path] = set()
    links: list[tuple[Path, PurePosixPath, bool]] = []  # (path, rel, is_folder)

    def walk(top: Path, rel_top: PurePosixPath, real_top: Path, follow: bool) -> None:
        # ``real_top`` is ``top`` with its links resolved; os.walk enters no linked folder,
        # so a file found here is at real_top/<the same relative path> (no resolve needed).
        for folder, dirnames, filenames in os.walk(top):
            here = Path(folder)
            sub = here.relative_to(top)
            rel_folder = rel_top / sub.as_posix()
            real_here = real_top / sub
            walked.add(real_here)
            keep = []
            for name in sorted(dirnames):
                rel = _clean(rel_folder / name)
                if spec.match_file(f"{rel}/"):
                    continue
                if (here / name).is_symlink():
                    if follow:
                        links.append((here / name, rel, True))
                    continue
                keep.append(name)
            dirnames[:] = keep
            for name in sorted(filenames):
                rel = _clean(rel_folder / name)
                if PurePosixPath(name).suffix.lower() not in MARKDOWN_SUFFIXES:
                    continue
                if spec.match_file(str(rel)):
                    continue
                path = here / name
                try:
                    st = os.lstat(path)
                except OSError:
                    out.skipped.append(Skipped(str(rel), ("a broken link or unreadable file",)))
                    continue
                if stat.S_ISLNK(st.st_mode):
                    if follow:
                        links.append((path, rel, False))
                    else:
                        _add(path, rel)
                elif not stat.S_ISREG(st.st_mode):
                    out.skipped.append(Skipped(str(rel), ("not a regular file",)))
                else:
                    found.setdefault(real_here / name, (path, rel, st))

    def _add(path: Path, rel: PurePosixPath) -> None:
        reason = _unsafe(path, root)
        if reason:
            out.skipped.append(Skipped(str(rel), (reason,)))
            return
        found.setdefault(path.resolve(), (path, rel, None))

    walk(root, PurePosixPath("."), root, follow=True)
    for path, rel, is_folder in sorted(links, key=lambda item: str(item[1])):
        try:
            real = path.resolve(strict=True)
        except (OSError, RuntimeError):
            out.skipped.append(Skipped(str(rel), ("a broken link",)))
            continue
        if not real.is_relative_to(root):
            what = "folder" if is_folder else "file"
            out.skipped.append(
                Skipped(
                    f"{rel}/" if is_folder else str(rel),
                    (f"a link to a {what} outside the content folder",),
                )
            )
        elif is_folder and real not in walked:
            walk(path, rel, real, follow=False)
        elif not is_folder and real not in found:
            _add(path, rel)
    files = sorted(found.values(), key=lambda item: str(item[1]))
    slugs, collisions = assign_slugs([rel for _, rel, _ in files])
    out.warnings.extend(collisions)
    out.files = []
    for path, rel, known in files:
        st = known or path.stat()
        out.files.append(
            ContentFile(
                path=path, rel=rel, slug=slugs[rel], size=st.st_size, mtime_ns=st.st_mtime_ns
            )
        )
    return out


def _clean(rel: PurePosixPath) -> PurePosixPath:
    return PurePosixPath(*[part for part in rel.parts if part != "."])


def _unsafe(path: Path, root: Path) -> str:
    """Why a file must not be read ("" when it may)."""
    try:
        real = path.resolve(strict=True)
        mode = os.stat(real).st_mode
    except (OSError, RuntimeError):
        return "a broken link or unreadable file"
    if not real.is_relative_to(root):
        return "a link to a file outside the content folder"
    if not stat.S_ISREG(mode):
        return "not a regular file"
    return ""


def _stem_slug(rel: PurePosixPath) -> str:
    return str(rel.with_suffix(""))


def _folder_slug(rel: PurePosixPath) -> str | None:
    if rel.stem.lower() not in FOLDER_PAGES:
        return None
    parent = str(rel.parent)
    return "index" if parent == "." else parent


def assign_slugs(
    rels: Sequence[PurePosixPath],
) -> tuple[dict[PurePosixPath, str], list[ContentWarning]]:
    """Slugs for page paths; a file whose slug is taken keeps its own path instead."""
    wanted: dict[PurePosixPath, str] = {}
    for rel in rels:
        wanted[rel] = _folder_slug(rel) or _stem_slug(rel)

    def rank(rel: PurePosixPath) -> tuple[int, str]:
        stem = rel.stem.lower()
        order = FOLDER_PAGES.index(stem) if stem in FOLDER_PAGES else len(FOLDER_PAGES)
        # A page named after its folder's own file (foo.md beside foo/index.md) wins over
        # folder pages; among equals, .md before .mdx before .markdown, then by path.
        return (0 if _folder_slug(rel) is None else 1 + order, str(rel))

    slugs: dict[PurePosixPath, str] = {}
    taken: set[str] = set()
    warnings: list[ContentWarning] = []
    for rel in sorted(rels, key=rank):
        slug = wanted[rel]
        if slug in taken:
            fallback = _stem_slug(rel)
            slug = fallback if fallback not in taken else str(rel)
            warnings.append(
                ContentWarning(
                    str(rel), f"its page name '{wanted[rel]}' is taken; indexed as '{slug}'"
                )
            )
        taken.add(slug)
        slugs[rel] = slug
    return slugs, warnings
