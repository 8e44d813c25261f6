"""The `local` backend: a transformers model in this process, optionally with a PEFT adapter, on
the batched engine (evalgate.models.engine). The default, and the only backend that scores
log-likelihoods today (the capability and leakage suites run on it).

The model is loaded by the pool only when a cache miss needs it; the tokenizer alone renders
prompts and counts their tokens, so a fully cached run never loads weights.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar, Literal

from evalgate.systems.backends.base import BackendKind, Message, OnDone, OnResult
from evalgate.util.yamlio import StrictModel


class LocalConfig(StrictModel):
    kind: Literal["local"] = "local"


class LocalBackend:
    kind: ClassVar[str] = "local"
    scores_logprobs: ClassVar[bool] = True

    def __init__(self, system: Any, pool: Any) -> None:
        from evalgate.models.loading import adapter_identity

        self.system = system
        self.pool = pool
        self.resolved = pool.resolved(system.config.model or pool.project.config.model.base)
        self.adapter = system.adapter_path
        self.adapter_identity = adapter_identity(self.adapter, pool.settings)
        self.tokenizer = pool.tokenizer(self.resolved)

    def identity(self) -> dict[str, Any]:
        # The keys of the cache entries written before backends existed: unchanged for the base
        # model, so an upgrade keeps its cached outputs; a merged adapter is named apart.
        from evalgate.models.engine import ENGINE_VERSION

        settings = self.pool.settings
        return {"model": self.resolved.identity, **self.adapter_identity,
                "dtype": settings.resolved_dtype(), "quantization": settings.quantization,
                "engine": ENGINE_VERSION}

    def describe(self) -> dict[str, Any]:
        settings = self.pool.settings
        return {"ref": self.resolved.ref, "identity": self.resolved.identity,
                "source": self.resolved.source, "dtype": settings.resolved_dtype(),
                "quantization": settings.quantization, "backend": self.kind}

    def render(self, messages: Sequence[Message]) -> str:
        from evalgate.models.chat import render_chat

        return render_chat(self.tokenizer, messages)

    def fit(self, suite: Any, inputs: Sequence[str], prompts: list[str],
            rebuild: Callable[[int, str], str], max_new_tokens: int) -> list[Any]:
        from evalgate.eval.lengths import fit_prompts

        tokenizer = self.tokenizer

        def count(text: str) -> int:
            return len(tokenizer(text, add_special_tokens=False)["input_ids"])

        def cut(text: str, keep: int) -> str:
            ids = tokenizer(text, add_special_tokens=False)["input_ids"][:keep]
            return tokenizer.decode(ids, skip_special_tokens=True)

        return fit_prompts(suite, inputs, prompts, count, rebuild, cut,
                           self.pool.window(self.resolved), max_new_tokens)

    def engine(self) -> Any:
        """The batched engine (the model loads here, once per pool): for log-likelihoods."""
        return self.pool.engine(self.resolved, self.adapter)

    def generate(self, prompts: Sequence[str], params: Any, *, on_done: OnDone = None,
                 on_result: OnResult = None) -> list[Any]:
        return self.engine().generate(list(prompts), params, on_done=on_done,
                                      on_result=on_result)


LOCAL = BackendKind(name="local", config=LocalConfig, build=LocalBackend)
