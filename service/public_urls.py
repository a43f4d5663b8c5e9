"""Absolute links for clients that are not a browser on our own pages.

Citations link to ``KB_SITE_URL`` when it is set, else to the demo site's relative
``/learn/...`` pages. An editor's assistant, a chat front-end or an LLM reading llms.txt
cannot follow a relative link, so the integrations make every link absolute against the
service's public address: ``KB_PUBLIC_BASE_URL``, else where `kb serve` listens
(``KB_HOST``/``KB_PORT``). Never the request's ``Host`` header: a client must not choose
the links (or the script origins) the service hands to others.
"""

from __future__ import annotations

from dataclasses import replace
from urllib.parse import urlsplit

from kbcore.answering.models import Answer
from kbcore.settings import Settings

_ANY_ADDRESS = {"0.0.0.0", "::", ""}


def public_base(settings: Settings) -> str:
    """The service's public URL (no trailing slash): the configured one, else where
    `kb serve` listens."""
    if settings.public_base_url:
        return settings.public_base_url.rstrip("/")
    host = "127.0.0.1" if settings.host in _ANY_ADDRESS else settings.host
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}:{settings.port}"


def absolute(url: str, base: str) -> str:
    """``url`` unchanged when it is absolute, else resolved against ``base``."""
    if urlsplit(url).scheme:
        return url
    return f"{base.rstrip('/')}/{url.lstrip('/')}"


def with_absolute_links(answer: Answer, base: str) -> Answer:
    """The answer with every citation and suggestion URL absolute."""
    return replace(
        answer,
        citations=[replace(c, url=absolute(c.url, base)) for c in answer.citations],
        suggestions=[replace(s, url=absolute(s.url, base)) for s in answer.suggestions],
    )
