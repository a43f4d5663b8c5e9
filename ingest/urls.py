"""Where a page is published: its URL on the real site, by its generator's rule.

With ``KB_SITE_URL`` set (the URL at which the content folder's root is published), a
citation links to the page on the real site:

- MkDocs: directory URLs (``a/b.md`` -> ``a/b/``, ``a/index.md`` -> ``a/``), or
  ``a/b.html`` when ``use_directory_urls: false``;
- Docusaurus: the doc id (front-matter ``id`` replaces the file name, number prefixes
  such as ``01-`` dropped), or the front-matter ``slug`` (``/x`` from the docs root,
  ``x`` beside the file); ``index``/``README`` and a file named after its folder are the
  folder's page;
- Hugo: the section path (``_index.md`` and bundle ``index.md`` are their folder),
  front-matter ``slug`` replacing the file name, lower-cased;
- plain GitHub Markdown: the file itself.

A front-matter ``url`` overrides the rule in every dialect. Without ``KB_SITE_URL``
citations link to the demo site's ``/learn/<slug>``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import PurePosixPath
from typing import Any

from ingest.dialects import DocsFormat, DocsSite

_NUMBER_PREFIX = re.compile(r"^\d+[-_.]")
# Characters a URL path or fragment cannot carry as they are; everything else (non-ASCII
# letters included, as IRIs allow) stays readable.
_ESCAPES = {c: f"%{ord(c):02X}" for c in ' "<>`#%\\^{|}'}


def _iri(text: str) -> str:
    return "".join(_ESCAPES.get(c, c) for c in text if c >= " ")


def demo_url(slug: str) -> str:
    """The demo site's page for an article."""
    return f"/learn/{_iri(slug)}"


def _string(meta: Mapping[str, Any], key: str) -> str | None:
    value = meta.get(key)
    return value.strip() if isinstance(value, str) and value.strip() else None


def _mkdocs(rel: PurePosixPath, directory_urls: bool) -> str:
    stem = rel.stem.lower()
    folder = "" if str(rel.parent) == "." else f"{rel.parent}/"
    if stem in ("index", "readme"):
        return folder
    if not directory_urls:
        return f"{folder}{rel.stem}.html"
    return f"{folder}{rel.stem}/"


def _docusaurus(rel: PurePosixPath, meta: Mapping[str, Any]) -> str:
    parts = [_NUMBER_PREFIX.sub("", p) for p in rel.parent.parts if p != "."]
    folder = "/".join(parts)
    slug = _string(meta, "slug")
    if slug is not None:
        if slug.startswith("/"):
            return slug.lstrip("/")
        return f"{folder}/{slug}".strip("/")
    name = _string(meta, "id") or _NUMBER_PREFIX.sub("", rel.stem)
    if name.lower() in ("index", "readme") or (parts and name == parts[-1]):
        return folder
    return f"{folder}/{name}".strip("/")


def _hugo(rel: PurePosixPath, meta: Mapping[str, Any]) -> str:
    folder = "" if str(rel.parent) == "." else f"{rel.parent}/"
    if rel.stem.lower() in ("_index", "index"):
        return folder.lower()
    name = _string(meta, "slug") or rel.stem
    return f"{folder}{name}/".lower().replace(" ", "-")


def site_path(site: DocsSite, rel: PurePosixPath, meta: Mapping[str, Any]) -> str:
    """The page's path under the site URL (no leading slash)."""
    if site.format is DocsFormat.MKDOCS:
        return _mkdocs(rel, site.use_directory_urls)
    if site.format is DocsFormat.DOCUSAURUS:
        return _docusaurus(rel, meta)
    if site.format is DocsFormat.HUGO:
        return _hugo(rel, meta)
    if site.generator is not None:
        return site.generator.site_path(rel, meta, site.options)
    return str(rel)


def page_url(site: DocsSite, rel: PurePosixPath, slug: str, meta: Mapping[str, Any]) -> str:
    """Where a page's citations link: the real site when known, else the demo site."""
    if site.site_url is None:
        return demo_url(slug)
    override = _string(meta, "url")
    if override is not None:
        if re.match(r"^https?://", override):
            return override
        path = override.lstrip("/")
    else:
        path = site_path(site, rel, meta)
    return f"{site.site_url}/{_iri(path)}"


def section_url(page: str, anchor: str) -> str:
    """A section of a page: ``page#anchor`` (the page itself for the overview)."""
    return f"{page}#{_iri(anchor)}" if anchor else page
