"""Route dependencies of the analytics feature."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from service.analytics.log import ConversationLog
from service.deps import StateDep


def get_conversation_log(state: StateDep) -> ConversationLog:
    """The service's conversation log (a no-op with ``KB_ANALYTICS=off``)."""
    return state.conversation_log()


ConversationLogDep = Annotated[ConversationLog, Depends(get_conversation_log)]
