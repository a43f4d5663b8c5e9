"""How an answer becomes an OpenAI message and how a ``messages`` list becomes a question:
markers, annotations, streamed pieces and history, on hand-made answers."""

from __future__ import annotations

import pytest

from kbcore.answering.models import Answer, Citation, Suggestion
from service.chat.schemas import MAX_TURNS
from service.openai_compat.conversation import conversation
from service.openai_compat.render import pieces, render, strip_sources
from service.openai_compat.schemas import Message
from service.problems import Problem


def citation(number: int, heading: str = "Costs") -> Citation:
    return Citation(
        id=number,
        article="cost",
        title="What It Costs",
        heading=heading,
        anchor=heading.lower(),
        url=f"https://kb.test/learn/cost#{heading.lower()}",
        path="cost.md",
        quote="q",
        score=0.9,
    )


def answer(text: str, citations: list[Citation]) -> Answer:
    return Answer(
        answer=text, citations=citations, grounded=True, suggestions=[], index_version="v"
    )


def test_annotations_delimit_each_marker_and_skip_code() -> None:
    text = "Runs cost $50 [1] and use\n```python\nx = a [1]\n```\n [2] then more [1]"
    rendered = render(answer(text, [citation(1), citation(2, "Runs")]))
    spans = [(a.url_citation.start_index, a.url_citation.end_index) for a in rendered.annotations]
    assert [rendered.content[s:e] for s, e in spans] == ["[1]", "[2]", "[1]"]
    assert spans[0][0] == text.index("[1]") and spans[2][0] == text.rindex("[1]")
    assert rendered.annotations[1].url_citation.title == "What It Costs > Runs"
    assert rendered.content.startswith(text)  # the answer itself is never changed
    assert rendered.content.endswith(
        "Sources:\n- [1] [What It Costs > Costs](https://kb.test/learn/cost#costs)\n"
        "- [2] [What It Costs > Runs](https://kb.test/learn/cost#runs)"
    )


def test_refusal_lists_the_suggestions_as_links() -> None:
    refused = Answer(
        answer="The knowledge base doesn't cover that.",
        citations=[],
        grounded=False,
        suggestions=[Suggestion("cost", "Costs [2026]", "https://kb.test/learn/cost (old)")],
        index_version="v",
    )
    rendered = render(refused)
    assert rendered.annotations == [] and rendered.kb.grounded is False
    assert rendered.content.endswith(
        "\n\n- [Costs \\[2026\\]](https://kb.test/learn/cost%20%28old%29)"
    )


@pytest.mark.parametrize(
    "text",
    [
        "",
        "one",
        "A sentence with [1] markers. " * 12,
        "Code:\n```\nline  with   spaces\n\n\tindent\n```\n [1]",
        "   leading and trailing   ",
    ],
)
def test_streamed_pieces_join_to_exactly_the_text(text: str) -> None:
    parts = pieces(text)
    assert "".join(parts) == text
    assert all(len(p) <= 48 or " " not in p.strip() for p in parts)


def test_sources_block_is_stripped_from_earlier_answers() -> None:
    rendered = render(answer("Runs cost $50 [1]", [citation(1)]))
    assert strip_sources(rendered.content) == "Runs cost $50 [1]"
    assert strip_sources("no sources here") == "no sources here"


def msg(role: str, content: object) -> Message:
    return Message.model_validate({"role": role, "content": content})


def test_the_last_user_message_is_the_question_and_earlier_turns_the_history() -> None:
    asked = conversation(
        [
            msg("system", "be brief"),
            msg("user", "How much does fine-tuning cost?"),
            msg("assistant", "About $50 [1]\n\nSources:\n- [1] [Costs](https://x)"),
            msg("tool", "ignored"),
            msg(
                "user",
                [
                    {"type": "text", "text": "and"},
                    {"type": "image_url"},
                    {"type": "text", "text": "runs?"},
                ],
            ),
            msg("assistant", ""),
        ]
    )
    assert asked.question == "and\nruns?"
    assert [(t.role, t.content) for t in asked.history] == [
        ("user", "How much does fine-tuning cost?"),
        ("assistant", "About $50 [1]"),
    ]
    long = conversation([msg("user", f"q{i}") for i in range(50)])
    assert len(long.history) == MAX_TURNS and long.history[-1].content == "q48"


@pytest.mark.parametrize(
    "messages",
    [
        [msg("system", "no question")],
        [msg("user", "   "), msg("assistant", "hi")],
        [msg("user", "x" * 2001)],
    ],
)
def test_no_usable_question_is_a_400(messages: list[Message]) -> None:
    with pytest.raises(Problem) as caught:
        conversation(messages)
    assert caught.value.status == 400 and caught.value.extra == {"param": "messages"}
