"""Chat rendering: the one place a conversation becomes text through the model's chat template.

Evaluation prompts, on-policy pair prompts, training examples and the engine all render here, so
a prompt a model is trained on is, character for character, the prompt it is served (and a
cached output's key, which hashes the rendered prompt, means the same thing everywhere). Also
here: the token ids a chat turn ends with, which generation stops at and training must teach.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def render_chat(tokenizer: Any, messages: Sequence[dict[str, str]], *,
                open_turn: bool = True) -> str:
    """`messages` through the tokenizer's chat template, as text.

    With `open_turn` the assistant's turn is opened after them (the prompt a model answers);
    without it the text ends where the messages do (a conversation to train on).
    """
    return tokenizer.apply_chat_template(
        list(messages), tokenize=False, add_generation_prompt=open_turn
    )


def eos_ids(tokenizer: Any, model: Any) -> frozenset[int]:
    """EOS ids of the tokenizer and the generation config (chat turns end with e.g. <|im_end|>)."""
    ids: set[int] = set()
    for value in (
        tokenizer.eos_token_id,
        getattr(getattr(model, "generation_config", None), "eos_token_id", None),
    ):
        if isinstance(value, int):
            ids.add(value)
        elif isinstance(value, (list, tuple)):
            ids.update(v for v in value if isinstance(v, int))
    return frozenset(ids)
