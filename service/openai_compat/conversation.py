"""An OpenAI ``messages`` list -> the question and its history, as the chat engine takes them.

The last user message with text is the question; the user and assistant messages before it
are the history (the most recent ones, up to the engine's limits). System, developer and
tool messages are ignored: the knowledge base answers from its articles, not from
instructions, and front-ends send their own system prompts.
"""

from __future__ import annotations

from dataclasses import dataclass

from kbcore.answering.models import Turn
from service.chat.schemas import MAX_MESSAGE, MAX_TURN, MAX_TURNS
from service.openai_compat.render import strip_sources
from service.openai_compat.schemas import Message
from service.problems import Problem

TEXT_PARTS = frozenset({"text", "input_text"})


@dataclass(frozen=True)
class Conversation:
    question: str
    history: list[Turn]


def message_text(message: Message) -> str:
    """The text of a message (text parts joined; images and files are not read)."""
    if isinstance(message.content, str):
        return message.content
    parts = message.content or []
    return "\n".join(p.text for p in parts if p.type in TEXT_PARTS and p.text)


def _invalid(detail: str) -> Problem:
    return Problem(400, detail, slug="invalid-request", extra={"param": "messages"})


def conversation(messages: list[Message]) -> Conversation:
    """The question and the history before it; 400 when there is no question."""
    asked = [i for i, m in enumerate(messages) if m.role == "user" and message_text(m).strip()]
    if not asked:
        raise _invalid("messages must contain a user message with text (the question)")
    last = asked[-1]
    question = message_text(messages[last]).strip()
    if len(question) > MAX_MESSAGE:
        raise _invalid(f"the question (the last user message) is over {MAX_MESSAGE} characters")
    history: list[Turn] = []
    for message in messages[:last]:
        text = strip_sources(message_text(message)).strip()[:MAX_TURN]
        if message.role == "user" and text:
            history.append(Turn(role="user", content=text))
        elif message.role == "assistant" and text:
            history.append(Turn(role="assistant", content=text))
    return Conversation(question=question, history=history[-MAX_TURNS:])
