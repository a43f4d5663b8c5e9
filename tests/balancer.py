"""A small round-robin TCP load balancer for tests and benches.

It stands in for the nginx `balancer` of docker-compose.yml (deploy/nginx.conf) when
several `kb serve` processes run on one machine: each accepted connection goes to the next
backend in turn; a backend that refuses the connection or does not accept it within
``connect_timeout_s`` is skipped for the next one (nginx's ``proxy_next_upstream error
timeout``), and the client is closed only when every backend failed. Bytes are piped both
ways unchanged, so HTTP/1.1 keep-alive and server-sent events pass through as they are
(balancing is per connection, like nginx's, not per request).

    with Balancer([("127.0.0.1", 8001), ("127.0.0.1", 8002)]) as lb:
        httpx.get(f"{lb.url}/readyz")
        lb.counts  # {"127.0.0.1:8001": 1, "127.0.0.1:8002": 0}

The event loop runs in a daemon thread; ``counts``, ``failures``, ``failed_connects`` and
``rejected`` may be read from any thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Sequence
from types import TracebackType
from typing import Self

_CHUNK = 64 * 1024


class Balancer:
    """Round-robin TCP proxy on ``host`` (a free port unless ``port`` is given)."""

    def __init__(
        self,
        backends: Sequence[tuple[str, int]],
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        connect_timeout_s: float = 1.0,
    ) -> None:
        if not backends:
            raise ValueError("a balancer needs at least one backend")
        self.backends: list[tuple[str, int]] = [(h, int(p)) for h, p in backends]
        self.host = host
        self.port = port
        self.connect_timeout_s = connect_timeout_s
        keys = [self.key(backend) for backend in self.backends]
        # Connections each backend took, and connects to it that failed (refused/timeout).
        self.counts: dict[str, int] = dict.fromkeys(keys, 0)
        self.failures: dict[str, int] = dict.fromkeys(keys, 0)
        self.failed_connects = 0
        # Clients closed because no backend could be reached.
        self.rejected = 0
        self._lock = threading.Lock()
        self._next = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._start_error: BaseException | None = None
        self._stopped = False
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()

    @staticmethod
    def key(backend: tuple[str, int]) -> str:
        """The name of a backend in ``counts`` and ``failures``: ``host:port``."""
        return f"{backend[0]}:{backend[1]}"

    @property
    def url(self) -> str:
        """``http://host:port`` of the listening socket (after ``start()``)."""
        if not self._ready.is_set() or self._start_error is not None:
            raise RuntimeError("the balancer is not running")
        return f"http://{self.host}:{self.port}"

    # --- lifecycle ---------------------------------------------------------------------

    def start(self) -> Self:
        """Listen and serve in a background thread; returns once the socket is bound."""
        with self._lock:
            if self._thread is not None or self._stopped:
                raise RuntimeError("a balancer starts once")
            self._thread = threading.Thread(target=self._run, name="balancer", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the balancer did not start within 10 s")
        if self._start_error is not None:
            self._thread.join()
            raise RuntimeError(f"the balancer could not listen: {self._start_error}") from (
                self._start_error
            )
        return self

    def stop(self) -> None:
        """Close the listener and every open pipe, end the thread. Idempotent."""
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
            thread, loop = self._thread, self._loop
        if thread is None:
            return
        self._ready.wait(10)
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed in the meantime
                done = asyncio.run_coroutine_threadsafe(self._shutdown(), loop)
                with contextlib.suppress(Exception):
                    done.result(timeout=5)
                loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        self._loop = loop
        try:
            server = loop.run_until_complete(
                asyncio.start_server(self._handle, self.host, self.port)
            )
        except BaseException as exc:  # reported by start()
            self._start_error = exc
            loop.close()
            self._ready.set()
            return
        self._server = server
        self.port = int(server.sockets[0].getsockname()[1])
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            pending = [task for task in asyncio.all_tasks(loop) if not task.done()]
            for task in pending:
                task.cancel()
            if pending:
                loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            writer.close()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    # --- one client connection ---------------------------------------------------------

    async def _handle(
        self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter
    ) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        self._writers.add(client_writer)
        backend_writer: asyncio.StreamWriter | None = None
        try:
            connected = await self._connect()
            if connected is None:
                with self._lock:
                    self.rejected += 1
                return
            backend_reader, backend_writer = connected
            self._writers.add(backend_writer)
            await asyncio.gather(
                self._pipe(client_reader, backend_writer),
                self._pipe(backend_reader, client_writer),
            )
        finally:
            for writer in (client_writer, backend_writer):
                if writer is not None:
                    self._writers.discard(writer)
                    writer.close()
            if task is not None:
                self._tasks.discard(task)

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
        """The next backend that accepts, starting after the last one chosen; each
        backend is tried once (other connections move the turn meanwhile, so the order is
        taken once, at the start)."""
        with self._lock:
            start = self._next
            self._next += 1
        for step in range(len(self.backends)):
            backend = self.backends[(start + step) % len(self.backends)]
            name = self.key(backend)
            try:
                streams = await asyncio.wait_for(
                    asyncio.open_connection(*backend), self.connect_timeout_s
                )
            except (OSError, TimeoutError):
                with self._lock:
                    self.failures[name] += 1
                    self.failed_connects += 1
                continue
            with self._lock:
                self.counts[name] += 1
            return streams
        return None

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Copy until end of stream, then half-close the other side (it may still answer)."""
        try:
            while chunk := await reader.read(_CHUNK):
                writer.write(chunk)
                await writer.drain()
            if writer.can_write_eof() and not writer.is_closing():
                writer.write_eof()
        except OSError:  # reset or broken: the other direction cannot go on either
            writer.close()
