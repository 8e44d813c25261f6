"""Backends: where a system's prompts are answered. One protocol, registered by name.

A system says *what* to ask (evalgate.systems.prompting); its backend says *where* it is asked:
`local` (a transformers model in this process, optionally with a PEFT adapter, on the batched
engine) or `openai` (any OpenAI-compatible endpoint: vLLM, TGI, Ollama, a llama.cpp server,
`transformers serve`, a hosted API). The evaluation loop (evalgate.eval.run) only talks to this
protocol, so a prompt, few-shot or RAG recipe runs unchanged on either, and a new backend is a
new module plus one `register_backend` line in `evalgate.systems.backends`.

What a backend promises:

- `identity()`: everything that shapes its outputs besides the prompt (model weights or base URL
  and served model id, dtype, engine version). It goes into every cache key, so a local and a
  remote run never share outputs. It never holds a secret.
- `render(messages)`: the text a cached output is keyed on (local: the chat template's text,
  which is what the model reads; endpoint: the messages as canonical JSON, since the server
  applies its own template).
- `fit(...)`: prompts that would not fit the model's window, shortened or refused before any
  model loads (`on_long_input`); an endpoint does so when its system names the served window
  (`backend.context_window`), and otherwise says that over-long inputs are sent whole.
- `generate(prompts, params, on_done, on_result)`: greedy completions, each handed to
  `on_result` as soon as it is finished (the caller caches it), so an interrupted or failed run
  keeps everything that finished.
- `scores_logprobs`: whether log-likelihoods can be computed (the capability and leakage suites
  need them); checks that need them say INCONCLUSIVE with the reason where a backend cannot.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

if TYPE_CHECKING:
    from evalgate.models.engine import Generation, GenerationParams

Message = dict[str, str]
OnDone = Callable[[int], None] | None
OnResult = Callable[[int, "Generation"], None] | None


class Backend(Protocol):
    kind: ClassVar[str]
    scores_logprobs: ClassVar[bool]

    def identity(self) -> dict[str, Any]: ...

    def describe(self) -> dict[str, Any]: ...

    def render(self, messages: Sequence[Message]) -> str: ...

    def fit(self, suite: Any, inputs: Sequence[str], prompts: list[str],
            rebuild: Callable[[int, str], str], max_new_tokens: int) -> list[Any]: ...

    def generate(self, prompts: Sequence[str], params: GenerationParams, *,
                 on_done: OnDone = None, on_result: OnResult = None) -> list[Generation]: ...


@dataclass(frozen=True)
class BackendKind:
    """A registered backend: its config model (the `backend:` block of a system file, with a
    `kind` literal) and how to build it for a system on a model pool."""

    name: str
    config: type
    build: Callable[[Any, Any], Backend]  # (system, pool) -> Backend


BACKENDS: dict[str, BackendKind] = {}


def register_backend(kind: BackendKind) -> BackendKind:
    BACKENDS[kind.name] = kind
    return kind
