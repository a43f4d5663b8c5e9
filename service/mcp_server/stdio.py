"""``kb mcp``'s stdio transport: the MCP SDK's server on newline-delimited JSON-RPC, where
every line gets an answer.

The SDK's own stdio transport passes a line it cannot read to the server as an exception,
which answers nothing, so a client that sent a malformed line (broken JSON, a lone
surrogate, a message of no JSON-RPC shape) waits forever. Here such a line is answered
at once with JSON-RPC's own error: ``-32700`` (parse error) when it is not JSON,
``-32600`` (invalid request) when it is JSON but not a message, with the request's ``id``
when one can be read. A response that cannot be written as UTF-8 JSON becomes an
``-32603`` error for its id instead of ending the process.
"""

from __future__ import annotations

import json
import logging
import sys
from io import TextIOWrapper
from typing import Any

import anyio
import mcp_types as types
from anyio.streams.memory import MemoryObjectSendStream
from mcp.server.mcpserver import MCPServer
from mcp.shared.message import SessionMessage

log = logging.getLogger(__name__)
PARSE_ERROR = -32700
INVALID_REQUEST = -32600
INTERNAL_ERROR = -32603
DRAIN_S = 5.0  # after stdin closes, how long queued answers may take to be written


def error_line(code: int, message: str, request_id: Any = None) -> str:
    """A JSON-RPC error response as one line (``id`` null when the request's is unknown)."""
    if not isinstance(request_id, str | int) or isinstance(request_id, bool):
        request_id = None
    body = {"jsonrpc": "2.0", "id": request_id, "error": {"code": code, "message": message}}
    return json.dumps(body, ensure_ascii=True)


def answer_to_unreadable(line: str) -> str | None:
    """The error line for an input line that is not a JSON-RPC message, None when it is
    one (or a notification-like line nobody waits for)."""
    try:
        types.jsonrpc_message_adapter.validate_json(line, by_name=False)
        return None
    except ValueError:
        pass
    try:
        data = json.loads(line)
    except ValueError:
        return error_line(PARSE_ERROR, "parse error: the line is not JSON")
    request_id = data.get("id") if isinstance(data, dict) else None
    if isinstance(data, dict) and "method" in data and request_id is None:
        return None  # a malformed notification: JSON-RPC answers notifications never
    return error_line(
        INVALID_REQUEST,
        "invalid request: not a JSON-RPC 2.0 message (or not valid UTF-8 text)",
        request_id,
    )


def _encoded(message: SessionMessage) -> str:
    """A message as one line of JSON, or an internal error for its id."""
    try:
        text = message.message.model_dump_json(by_alias=True, exclude_unset=True)
        text.encode("utf-8")
        return text
    except (ValueError, UnicodeError) as exc:
        request_id = getattr(message.message, "id", None)
        log.warning("mcp stdio: a response could not be written (%s)", exc.__class__.__name__)
        return error_line(INTERNAL_ERROR, "the response could not be encoded", request_id)


async def serve_stdio(server: MCPServer) -> None:
    """Run ``server`` on this process's stdin and stdout until stdin closes."""
    stdin = anyio.wrap_file(TextIOWrapper(sys.stdin.buffer, encoding="utf-8", errors="replace"))
    stdout = anyio.wrap_file(TextIOWrapper(sys.stdout.buffer, encoding="utf-8"))
    to_server, from_client = anyio.create_memory_object_stream[SessionMessage | Exception](0)
    to_client, from_server = anyio.create_memory_object_stream[SessionMessage](0)
    lines_out, lines = anyio.create_memory_object_stream[str](64)

    async def read(out: MemoryObjectSendStream[str]) -> None:
        async with to_server, out:
            async for line in stdin:
                if not line.strip():
                    continue
                error = answer_to_unreadable(line)
                if error is not None:
                    await out.send(error)
                    continue
                message = types.jsonrpc_message_adapter.validate_json(line, by_name=False)
                await to_server.send(SessionMessage(message))

    async def forward(out: MemoryObjectSendStream[str]) -> None:
        async with from_server, out:
            async for message in from_server:
                await out.send(_encoded(message))

    async def write() -> None:
        async with lines:
            async for line in lines:
                await stdout.write(line + "\n")
                await stdout.flush()

    lowlevel = server._lowlevel_server  # the SDK's own run_stdio_async does the same
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(read, lines_out.clone())
        tasks.start_soon(forward, lines_out.clone())
        lines_out.close()
        tasks.start_soon(write)
        await lowlevel.run(from_client, to_client, lowlevel.create_initialization_options())
        to_client.close()  # stdin closed: write what is still queued, then stop
        tasks.cancel_scope.deadline = anyio.current_time() + DRAIN_S
