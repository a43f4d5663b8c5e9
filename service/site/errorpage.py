"""The HTML page a person's browser gets for an error (a mistyped article link, an
oversize form...): the demo site's look, the status and what went wrong, a way back."""

from __future__ import annotations

from html import escape

from service.site.style import CSS, CSS_HASH

# No script at all; only the inline stylesheet (by hash) and the favicon.
ERROR_PAGE_HEADERS = {
    "Content-Security-Policy": (
        f"default-src 'none'; style-src '{CSS_HASH}'; img-src 'self'; base-uri 'none'; "
        "form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "Cache-Control": "no-store",
}


def error_html(status: int, title: str, detail: str) -> str:
    """A small, self-contained error page."""
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{status} {escape(title)} | Learn</title>
<link rel="icon" href="/favicon.svg" type="image/svg+xml">
<style>{CSS}</style>
</head>
<body>
<header class="top"><div class="wrap">
<a class="brand" href="/"><span class="logo" aria-hidden="true">L</span>Learn</a>
</div></header>
<main id="main"><div class="wrap error-page">
<p class="status">{status}</p>
<h1>{escape(title)}</h1>
<p class="lead">{escape(detail)}</p>
<p><a href="/">Back to all articles</a></p>
</div></main>
</body>
</html>
"""
