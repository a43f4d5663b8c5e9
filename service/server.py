"""How uvicorn runs the app: one place for `kb serve`, the tests and the benchmarks.

- **Client identity.** uvicorn's proxy handling is on only when ``KB_TRUSTED_PROXIES``
  lists proxies, and then trusts exactly those: the client is the rightmost
  ``X-Forwarded-For`` hop that is not a trusted proxy (a client cannot forge its way
  past the proxy that appended its real address). Off by default: uvicorn's own default
  trusts 127.0.0.1, which lets anyone behind a local proxy pick their identity.
- **Read timeouts.** A connection must deliver a request's headers within
  ``KB_HEADER_TIMEOUT_S`` of opening (or of its previous response), else it gets a 408
  and is closed; idle keep-alive connections close after ``KB_KEEP_ALIVE_S``. The body's
  own deadline is ``RequestLimitsMiddleware``'s.
- Logging is the app's (``service/logs.py``): uvicorn's access log is off, the app logs
  each request with its id.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from kbcore.settings import Settings
from service.problems import PROBLEM_BASE

_TIMEOUT_BODY = json.dumps(
    {
        "type": PROBLEM_BASE + "request-timeout",
        "title": "Request Timeout",
        "status": 408,
        "detail": "the request headers did not arrive in time",
    }
).encode()
REQUEST_TIMEOUT = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/problem+json\r\n"
    b"connection: close\r\ncontent-length: %d\r\n\r\n%s" % (len(_TIMEOUT_BODY), _TIMEOUT_BODY)
)


class HeaderTimeoutProtocol(H11Protocol):
    """uvicorn's h11 protocol, closing connections whose request headers do not arrive
    in time (uvicorn itself waits forever once a byte has arrived)."""

    header_timeout_s: float = 10.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        cycle = self.cycle
        super().data_received(data)
        if self.cycle is not cycle:  # a request's headers are complete
            self._disarm()

    def on_response_complete(self) -> None:
        finished = self.cycle
        super().on_response_complete()
        if self.cycle is finished and not self.transport.is_closing():
            self._arm()  # the next request's headers (or the rest of this body) are due

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._disarm()
        self._header_timer = self.loop.call_later(self.header_timeout_s, self._timed_out)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _timed_out(self) -> None:
        self._header_timer = None
        if self.transport.is_closing():
            return
        if self.cycle is None or self.cycle.response_complete:
            self.transport.write(REQUEST_TIMEOUT)
        self.transport.close()


def protocol_with_header_timeout(seconds: float) -> type[HeaderTimeoutProtocol]:
    """The protocol class with its timeout (uvicorn instantiates the class itself)."""
    return type("KbHttpProtocol", (HeaderTimeoutProtocol,), {"header_timeout_s": seconds})


def uvicorn_config(
    app: Any, settings: Settings, host: str | None = None, port: int | None = None
) -> uvicorn.Config:
    """The uvicorn configuration of the service (see the module docstring)."""
    trusted = list(settings.trusted_proxies)
    return uvicorn.Config(
        app,
        host=host or settings.host,
        port=settings.port if port is None else port,
        http=protocol_with_header_timeout(settings.header_timeout_s),
        proxy_headers=bool(trusted),
        forwarded_allow_ips=trusted or None,
        timeout_keep_alive=max(1, round(settings.keep_alive_s)),
        lifespan="on",
        log_config=None,
        access_log=False,
        server_header=False,
    )
