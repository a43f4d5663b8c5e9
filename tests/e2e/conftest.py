"""Real-browser fixtures: Debian's Chromium driven by Playwright, the real app served by
uvicorn on a free port, and tiny "customer site" servers on other ports (other origins).

Without /usr/bin/chromium the browser tests skip, unless KB_REQUIRE_BROWSER=1 (CI), where
a missing browser is a failure.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from kbcore.runtime import Runtime
from service.app import create_app
from service.server import uvicorn_config
from service.state import ServiceState
from tests.conftest import ROOT, make_settings
from tests.stubs.openai_stub import free_port

CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
ARTIFACTS = ROOT / "artifacts"


@contextmanager
def serve(app: Any, port: int | None = None) -> Iterator[str]:
    """Run an ASGI app with uvicorn in a background thread; yields its base URL. The
    service's own app runs with `kb serve`'s configuration (proxy handling, timeouts)."""
    port = port or free_port()
    state = getattr(getattr(app, "state", None), "kb", None)
    if isinstance(state, ServiceState):
        config = uvicorn_config(app, state.settings, host="127.0.0.1", port=port)
    else:
        config = uvicorn.Config(
            app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"
        )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError(f"server on port {port} did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@dataclass
class HostSite:
    """A customer's site on its own origin: serves whatever HTML a test puts in ``pages``."""

    url: str
    pages: dict[str, str] = field(default_factory=dict)


def host_app(site: HostSite) -> FastAPI:
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/{path:path}")
    def page(path: str) -> HTMLResponse:
        html = site.pages.get("/" + path)
        return HTMLResponse(html or "<!doctype html><title>none</title>", 200 if html else 404)

    return app


@contextmanager
def host_site(port: int | None = None) -> Iterator[HostSite]:
    port = port or free_port()
    site = HostSite(url=f"http://127.0.0.1:{port}")
    with serve(host_app(site), port):
        yield site


@dataclass(frozen=True)
class Servers:
    kb: str  # the service: API, /widget.js, demo site
    allowed: HostSite  # a customer site listed in KB_ALLOWED_ORIGINS
    other: HostSite  # a site that is not


@pytest.fixture(scope="session")
def servers(
    content_runtime: Runtime, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Servers]:
    allowed_port, other_port, kb_port = free_port(), free_port(), free_port()
    settings = make_settings(
        tmp_path_factory.mktemp("e2e"),
        allowed_origins=[f"http://127.0.0.1:{allowed_port}"],
        port=kb_port,
    )
    app = create_app(settings, runtime=content_runtime, sync_on_start=False)
    with (
        serve(app, kb_port) as kb,
        host_site(allowed_port) as allowed,
        host_site(other_port) as other,
    ):
        yield Servers(kb=kb, allowed=allowed, other=other)


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    # Package scope: Playwright's sync API keeps an event loop running while it is open,
    # which would stop every later test from calling asyncio.run().
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is missing (install Debian's chromium to run the browser tests)"
        if os.environ.get("KB_REQUIRE_BROWSER") == "1":
            pytest.fail(reason + "; KB_REQUIRE_BROWSER=1 requires it")
        pytest.skip(reason)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=LAUNCH_ARGS, headless=True
        )
        yield launched
        launched.close()


@pytest.fixture()
def context(browser: Browser) -> Iterator[BrowserContext]:
    """A fresh profile per test (own sessionStorage), desktop sized, light scheme."""
    ctx = browser.new_context(viewport={"width": 1280, "height": 860}, color_scheme="light")
    ctx.set_default_timeout(15_000)
    yield ctx
    ctx.close()


@pytest.fixture()
def page(context: BrowserContext) -> Page:
    opened = context.new_page()
    opened.on("pageerror", lambda exc: print(f"page error: {exc}"))
    return opened


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


def embed(kb: str, **attrs: str) -> str:
    """The one tag a customer adds, with optional data-* attributes."""
    extra = "".join(f' data-{name.replace("_", "-")}="{value}"' for name, value in attrs.items())
    return f'<script src="{kb}/widget.js" data-kb-url="{kb}"{extra} defer></script>'


def host_page(kb: str, body: str = "", head: str = "", **attrs: str) -> str:
    """A minimal customer page embedding the widget."""
    return (
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Host</title>"
        f"{head}{embed(kb, **attrs)}</head><body>{body}</body></html>"
    )


# --- helpers shared by the browser tests -----------------------------------------------------

ANSWER = '[data-kb-message="assistant"][data-kb-state="done"]'
FAILED = '[data-kb-message="assistant"][data-kb-state="error"]'

FOCUSED_HOOK = """() => {
  let el = document.activeElement;
  while (el && el.shadowRoot && el.shadowRoot.activeElement) el = el.shadowRoot.activeElement;
  if (!el) return null;
  for (const name of ["data-kb-launcher", "data-kb-input", "data-kb-new", "data-kb-close",
                      "data-kb-send"]) if (el.hasAttribute(name)) return name;
  return el.tagName.toLowerCase();
}"""


def focused_hook(page: Page) -> str | None:
    """Which widget hook has keyboard focus (looking inside the shadow root)."""
    hook: str | None = page.evaluate(FOCUSED_HOOK)
    return hook


def ask(page: Page, question: str) -> None:
    """Type a question into the open widget and send it with Enter."""
    box = page.locator("[data-kb-input]")
    box.fill(question)
    box.press("Enter")


def answers(page: Page) -> Any:
    return page.locator(ANSWER)


def wait_answers(page: Page, count: int) -> None:
    page.wait_for_function(
        """n => {
          const host = document.querySelector('[data-kb-host],[data-kb-inline]');
          const root = host && host.shadowRoot;
          return !!root && root.querySelectorAll(
            '[data-kb-message="assistant"][data-kb-state="done"]').length >= n;
        }""",
        arg=count,
    )
