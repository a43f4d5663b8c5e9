"""Route dependencies, as ``Annotated`` aliases so signatures read like prose."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from kbcore.answering.engine import ChatEngine
from kbcore.runtime import Runtime
from service.public_urls import public_base
from service.state import ServiceState

# The deepest page a listing serves (SQLite's OFFSET is a signed 64-bit integer).
MAX_OFFSET = 10_000_000


def get_state(request: Request) -> ServiceState:
    """The service state the lifespan stored on the app."""
    state: ServiceState = request.app.state.kb
    return state


def get_runtime(state: Annotated[ServiceState, Depends(get_state)]) -> Runtime:
    """The runtime, or 503 while starting."""
    return state.require_runtime()


StateDep = Annotated[ServiceState, Depends(get_state)]
RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def get_public_base(state: StateDep) -> str:
    """Where this service is reached: ``KB_PUBLIC_BASE_URL``, else its bind address (never
    the request's Host header)."""
    return public_base(state.settings)


PublicBaseDep = Annotated[str, Depends(get_public_base)]


def get_engine(state: StateDep) -> ChatEngine:
    """The chat engine shared by every answering route."""
    return state.chat_engine()


EngineDep = Annotated[ChatEngine, Depends(get_engine)]
