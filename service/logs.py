"""Logging of `kb serve` and the CLI: one line per event on stderr, plain text or JSON
lines (``KB_LOG_FORMAT=json``), each carrying the request id of the request it belongs
to (asgi-correlation-id's log filter; ``-`` outside requests)."""

from __future__ import annotations

import logging
import sys
from typing import Literal

from asgi_correlation_id import CorrelationIdFilter
from pythonjsonlogger.json import JsonFormatter

TEXT_FORMAT = "%(asctime)s %(levelname)-7s %(name)s [%(correlation_id)s] %(message)s"
JSON_FIELDS = "%(asctime)s %(levelname)s %(name)s %(correlation_id)s %(message)s"
# alembic: its plugin set-up and per-step lines; service.database.migrate logs one line.
QUIET = ("httpx", "httpcore", "mcp", "asgi_correlation_id", "watchfiles", "alembic")


def _not_listening_line(record: logging.LogRecord) -> bool:
    """Drop uvicorn's "Uvicorn running on URL": it comes before the index is built, so a
    visitor following it would get 503s. The app logs "ready at URL" when it answers."""
    return not str(record.msg).startswith("Uvicorn running on")


def configure_logging(fmt: Literal["text", "json"] = "text", level: int = logging.INFO) -> None:
    """Send every log record to stderr in ``fmt`` at ``level`` and above."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(CorrelationIdFilter(default_value="-"))
    formatter: logging.Formatter
    if fmt == "json":
        formatter = JsonFormatter(
            JSON_FIELDS,
            rename_fields={
                "asctime": "time",
                "levelname": "level",
                "name": "logger",
                "correlation_id": "request_id",
            },
        )
    else:
        formatter = logging.Formatter(TEXT_FORMAT)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
        if _not_listening_line not in logger.filters:
            logger.addFilter(_not_listening_line)
    for name in QUIET:
        logging.getLogger(name).setLevel(max(level, logging.WARNING))
