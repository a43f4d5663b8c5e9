"""``/mcp``: the MCP server over Streamable HTTP, inside the service's own app.

- The app's lifespan runs the SDK's session manager (``McpEndpoint.running``); until it
  runs, and after it stops, ``/mcp`` answers 503.
- Stateless, JSON responses: every request stands alone, so any replica can answer it.
  Messages are POSTed; with no session there is no stream to GET and nothing to DELETE,
  so both are 405 (as the spec allows) rather than a stream held open for nothing.
- DNS-rebinding protection (the SDK's transport security): the Host header must name this
  service (localhost, ``KB_HOST`` or ``KB_PUBLIC_BASE_URL``'s host; else 421), and a
  browser's Origin must be one of ``KB_ALLOWED_ORIGINS`` or the public URL (else 403).
- ``KB_MCP_TOKEN``: when set, requests without ``Authorization: Bearer <token>`` get 401.
- Rate limiting and the body-size cap are the app's middleware, as for every route.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlsplit

from mcp.server.mcpserver import MCPServer
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.types import Message, Receive, Scope, Send

from kbcore.settings import Settings
from service.bearer import bearer_token, token_matches
from service.problems import Problem, problem_response, unavailable

PATH = "/mcp"
LOOPBACK = ("127.0.0.1", "localhost", "[::1]")
_ANY_ADDRESS = ("0.0.0.0", "::", "")


def _host_patterns(host: str) -> list[str]:
    """A Host header value with and without a port."""
    return [host, f"{host}:*"]


def transport_security(settings: Settings) -> TransportSecuritySettings:
    """The hosts and origins ``/mcp`` accepts, from the service's settings."""
    hosts: list[str] = []
    for host in LOOPBACK:
        hosts += _host_patterns(host)
    if settings.host not in _ANY_ADDRESS:
        bind = f"[{settings.host}]" if ":" in settings.host else settings.host
        hosts += _host_patterns(bind)
    origins = list(settings.allowed_origins)
    if settings.public_base_url:
        public = urlsplit(settings.public_base_url)
        if public.hostname:
            name = f"[{public.hostname}]" if ":" in public.hostname else public.hostname
            hosts += [public.netloc.rsplit("@", 1)[-1], *_host_patterns(name)]
            origins.append(f"{public.scheme}://{public.netloc.rsplit('@', 1)[-1]}")
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=list(dict.fromkeys(hosts)),
        allowed_origins=list(dict.fromkeys(origins)),
    )


class McpEndpoint:
    """The ASGI app behind ``/mcp``: token check, then the SDK's session manager."""

    def __init__(self, server: MCPServer, settings: Settings) -> None:
        self.server = server
        self.settings = settings
        self._manager: StreamableHTTPSessionManager | None = None

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Run a session manager for as long as the app runs (a new one per lifespan:
        the SDK's manager runs once)."""
        self.server.streamable_http_app(
            streamable_http_path=PATH,
            stateless_http=True,
            json_response=True,
            transport_security=transport_security(self.settings),
            max_request_body_size=self.settings.max_body_bytes,
        )
        manager = self.server.session_manager
        async with manager.run():
            self._manager = manager
            try:
                yield
            finally:
                self._manager = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        token = self.settings.mcp_token
        if token is not None and not token_matches(
            bearer_token(request.headers.get("authorization")), token
        ):
            problem = Problem(
                401,
                "send the MCP token as 'Authorization: Bearer <KB_MCP_TOKEN>'",
                slug="unauthorized",
                headers={"WWW-Authenticate": 'Bearer realm="kb-mcp"'},
            )
            await problem_response(request, problem)(scope, receive, send)
            return
        if request.method != "POST":
            problem = Problem(
                405,
                "the MCP endpoint is stateless: POST JSON-RPC messages to it",
                headers={"Allow": "POST"},
            )
            await problem_response(request, problem)(scope, receive, send)
            return
        manager = self._manager
        if manager is None:
            problem = unavailable("the MCP server is not running yet; try again shortly", 2)
            await problem_response(request, problem)(scope, receive, send)
            return
        await manager.handle_request(scope, receive, _problems_for_plain_errors(scope, send))


_TITLES = {400: "bad-request", 403: "forbidden-origin", 421: "misdirected-request"}


def _problems_for_plain_errors(scope: Scope, send: Send) -> Send:
    """``send`` that turns the SDK's plain-text 400/403/421 (its transport security) into
    problem+json like every other error of the service; anything else passes through."""
    held: list[Message] = []

    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = dict(Headers(raw=message.get("headers", [])))
            plain = headers.get("content-type", "text/plain").startswith("text/plain")
            if int(message["status"]) in _TITLES and plain:
                held.append(message)
                return
        if held and message["type"] == "http.response.body":
            held.append(message)
            if message.get("more_body", False):
                return
            status = int(held[0]["status"])
            text = b"".join(m.get("body", b"") for m in held[1:]).decode("utf-8", "replace")
            detail = text.strip() or "the request was refused"
            if status == 421:
                detail += "; set KB_PUBLIC_BASE_URL to the URL clients use"
            elif status == 403:
                detail += "; add the site to KB_ALLOWED_ORIGINS"
            problem = Problem(status, detail, slug=_TITLES[status])
            await problem_response(Request(scope), problem)(scope, _no_body, send)
            return
        await send(message)

    return wrapped


async def _no_body() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}
