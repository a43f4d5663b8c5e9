"""Route dependencies, as ``Annotated`` aliases so signatures read like prose."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from kbcore.runtime import Runtime
from service.state import ServiceState


def get_state(request: Request) -> ServiceState:
    """The service state the lifespan stored on the app."""
    state: ServiceState = request.app.state.kb
    return state


def get_runtime(state: Annotated[ServiceState, Depends(get_state)]) -> Runtime:
    """The runtime, or 503 while starting."""
    return state.require_runtime()


StateDep = Annotated[ServiceState, Depends(get_state)]
RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
