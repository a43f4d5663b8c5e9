"""What the answer path reports about itself (stage timings, outcomes), without knowing
who listens: the service turns it into Prometheus metrics and OpenTelemetry spans, the
CLI and tests ignore it."""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from typing import Literal, Protocol

Stage = Literal["embedding", "retrieval"]


class Observer(Protocol):
    """Receives stage timings and answer outcomes."""

    def stage(self, name: Stage) -> AbstractContextManager[object]:
        """A context around one stage of a request (timed, traced)."""
        ...

    def answered(self, grounded: bool, refusal: str | None) -> None:
        """An answer left the engine: grounded, or refused with this code."""
        ...

    def tokens(self, prompt: int, completion: int) -> None:
        """A language model reported the tokens of one answer."""
        ...


class NullObserver:
    """Observes nothing."""

    def stage(self, name: Stage) -> AbstractContextManager[object]:
        return nullcontext()

    def answered(self, grounded: bool, refusal: str | None) -> None:
        return None

    def tokens(self, prompt: int, completion: int) -> None:
        return None
