"""Chat conversations → token ids and loss labels, the way the engine will see them.

The prompt part is `render_chat` (evalgate.models.chat, as evaluation renders it) followed by
`tokenizer(text, add_special_tokens=False)` (the engine's `encode`), so a trained prompt is token
for token the served prompt. Each assistant turn is rendered by the chat template itself (never
re-typed here) and cut right after the first token the engine stops at: those tokens, EOS
included, carry loss; everything else is labelled IGNORE. Tokens a template writes after the EOS
(ChatML's newline) are context for a following turn and are dropped after the last one: a served
model never generates them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evalgate.errors import ConfigError
from evalgate.models.chat import eos_ids, render_chat
from evalgate.models.loading import load_tokenizer
from evalgate.train.data import IGNORE, Message
from evalgate.util.files import sha256_text


@dataclass(frozen=True)
class ChatTokens:
    """A tokenizer with its chat template and the end-of-sequence ids generation stops at."""

    tokenizer: Any
    eos_ids: frozenset[int]
    source: Path

    @classmethod
    def load(cls, model_path: Path) -> ChatTokens:
        """Tokenizer of a model folder; no chat template is a ConfigError (from load_tokenizer)."""
        from transformers import GenerationConfig

        tokenizer = load_tokenizer(model_path)
        try:
            generation = GenerationConfig.from_pretrained(model_path)
        except OSError:  # no generation_config.json: the tokenizer's EOS alone
            generation = None
        holder = type("Holder", (), {"generation_config": generation})()
        return cls(tokenizer, eos_ids(tokenizer, holder), Path(model_path))

    @property
    def template_sha256(self) -> str:
        return sha256_text(self.tokenizer.chat_template)

    def encode(self, text: str) -> list[int]:
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def prompt_ids(self, messages: Sequence[Message]) -> list[int]:
        return self.encode(render_chat(self.tokenizer, messages))

    def sft_tokens(self, conversation: Sequence[Message]) -> tuple[list[int], list[int]]:
        """(input_ids, labels) of a conversation; loss on every assistant turn through its EOS."""
        ids: list[int] = []
        labels: list[int] = []
        pending: list[int] = []  # tokens after an EOS: context only if another turn follows
        done = ""
        for index, message in enumerate(conversation):
            if message["role"] != "assistant":
                continue
            prefix = render_chat(self.tokenizer, conversation[:index])
            full = render_chat(self.tokenizer, conversation[:index + 1], open_turn=False)
            if not prefix.startswith(done) or not full.startswith(prefix):
                raise ConfigError(
                    "the chat template does not render a conversation turn by turn (a prefix of "
                    "the conversation renders differently inside the whole)", path=self.source,
                    key="chat_template",
                    fix="use a template that appends each turn, or train on single-turn rows")
            # The first context is the whole served prompt: `prompt_ids` of the turns before.
            context = pending + self.encode(prefix[len(done):])
            turn = self.encode(full[len(prefix):])
            end = next((k for k, token in enumerate(turn) if token in self.eos_ids), None)
            if end is None:
                names = ", ".join(repr(self.tokenizer.decode([i])) for i in sorted(self.eos_ids))
                raise ConfigError(
                    f"the chat template ends an assistant turn without an end-of-sequence token "
                    f"({names}): a model trained on it never learns to stop",
                    path=self.source, key="chat_template",
                    fix="use a chat template whose assistant turn ends with the EOS token")
            ids += context + turn[:end + 1]
            labels += [IGNORE] * len(context) + turn[:end + 1]
            pending = turn[end + 1:]
            done = full
        if not ids:
            raise ConfigError("a conversation without an assistant turn has nothing to learn",
                              fix="end every conversation with the assistant's answer")
        return ids, labels


def check_lengths(lengths: Sequence[tuple[str, int]], max_length: int, config_path: Path,
                  key: str) -> None:
    """Refuse sequences over `max_length`: truncating keeps the prompt and cuts the answer's
    end, so the model would learn answers that never stop."""
    over = [(example_id, n) for example_id, n in lengths if n > max_length]
    if over:
        longest = max(over, key=lambda item: item[1])
        raise ConfigError(
            f"{len(over)} example(s) are longer than {key} = {max_length} tokens (longest: "
            f"'{longest[0]}' with {longest[1]})", path=config_path, key=key,
            fix=f"set {key} to at least {longest[1]}, or shorten those examples")
