"""The generator's prompt templates, named and versioned: a proposal's provenance and an answer name the
template that produced them, so a change of wording is a new version, never a silent change.

Proposals are asked for as chat turns with worked examples from the bank (few-shot as prior turns, not as a
list in one message): even a 135M-parameter instruct model then answers with one well-formed JSON object,
where one instruction with inline examples had it describe the task instead.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Sequence

from normgraph.frames.grammar import AND, format_constraint
from normgraph.generate.backends.base import ChatMessage
from normgraph.models import Constraint, Norm

GENERATE_TEMPLATE = "normgraph-generate@1"
ANSWER_TEMPLATE = "normgraph-answer@1"

_GENERATE_SYSTEM = (
    "You propose social norms for a setting. Reply with one JSON object: "
    '{"behavior": ..., "frame": ..., "label": ...}. The frame keeps the given conditions and may add one, '
    "joined by ' [AND] '; a condition looks like [PERSON]'s role is 'customer' or time of day is 'night'. "
    "The label is expected, okay or unexpected."
)


@dataclass(frozen=True)
class Example:
    """A worked example: what is given (setting, behaviour or not, conditions) and the norm that answers it."""

    setting: str
    behavior: str
    given: tuple[Constraint, ...]
    frame: tuple[Constraint, ...]
    label: str


# For a bank with no norm near the requested setting; written in the demo bank's style.
FALLBACK_EXAMPLES = (
    Example(
        "restaurant",
        "shout",
        (Constraint(subject="person", attribute="role", value="customer"),),
        (
            Constraint(subject="person", attribute="role", value="customer"),
            Constraint(subject="person", attribute="age bracket", value="toddler"),
        ),
        "okay",
    ),
    Example(
        "library",
        "talk on the phone",
        (Constraint(subject="person", attribute="role", value="patron"),),
        (Constraint(subject="person", attribute="role", value="patron"),),
        "unexpected",
    ),
    Example(
        "office",
        "bring a dog",
        (Constraint(subject="person", attribute="role", value="employee"),),
        (
            Constraint(subject="person", attribute="role", value="employee"),
            Constraint(subject="environment", attribute="event type", value="informal"),
        ),
        "okay",
    ),
)


def example_from(norm: Norm) -> Example | None:
    """A bank norm as a worked example: its first constraint given, the rest added by the answer."""
    if not norm.behavior or not norm.setting or not norm.constraints:
        return None
    return Example(norm.setting, norm.behavior, norm.constraints[:1], norm.constraints, norm.label.value)


def _ask(setting: str, behavior: str | None, given: Sequence[Constraint]) -> str:
    lines = [f"Setting: {setting}"]
    if behavior:
        lines.append(f"Behavior: {behavior}")
    lines.append(f"Conditions: {AND.join(format_constraint(c) for c in given) or 'none'}")
    return "\n".join(lines)


def _answer(e: Example) -> str:
    return json.dumps(
        {"behavior": e.behavior, "frame": AND.join(format_constraint(c) for c in e.frame), "label": e.label},
        ensure_ascii=False,
    )


def generate_messages(
    setting: str, behavior: str | None, facts: Sequence[Constraint], examples: Sequence[Example]
) -> list[ChatMessage]:
    """Without a behaviour the example questions leave theirs out too, so the model learns to choose one."""
    messages = [ChatMessage(role="system", content=_GENERATE_SYSTEM)]
    for e in examples:
        messages.append(ChatMessage(role="user", content=_ask(e.setting, e.behavior if behavior else None, e.given)))
        messages.append(ChatMessage(role="assistant", content=_answer(e)))
    messages.append(ChatMessage(role="user", content=_ask(setting, behavior, facts)))
    return messages


_ANSWER_SYSTEM = (
    "You answer questions about social norms using only the context items you are given. "
    "After each claim, cite the id of the item it rests on in square brackets, e.g. [n-0123456789abcdef]. "
    "Cite only ids that appear in the context. Answer in two or three short sentences."
)


def answer_messages(question: str, context: str) -> list[ChatMessage]:
    return [
        ChatMessage(role="system", content=_ANSWER_SYSTEM),
        ChatMessage(role="user", content=f"{context}\n\nQuestion: {question}"),
    ]
