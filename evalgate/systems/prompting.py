"""Systems: things that answer prompts. Baselines and candidates are both systems.

A system turns a suite's example into chat messages; the engine turns messages into text.
Keeping "what to ask" (here) apart from "how to run it" (models/) is what lets a prompt
baseline, a few-shot baseline, a RAG baseline and a fine-tuned adapter be judged identically.

Per suite a system has a prompt entry: a system message, a user template over `{input}` (the
suite's rendered input) and optionally few-shot examples (fixed ids or the k nearest by BM25)
or retrieval over a document folder (`{context}` in the user template).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator

from evalgate.errors import ConfigError
from evalgate.suite.criteria import Name
from evalgate.systems.backends import BackendConfig, LocalConfig
from evalgate.systems.retrieval import Chunk, Method, Retriever, load_corpus
from evalgate.util.files import sha256_json
from evalgate.util.jsonl import Dataset, load_jsonl
from evalgate.util.overlap import exact_overlap
from evalgate.util.templates import placeholders, render
from evalgate.util.yamlio import StrictModel, load_yaml_model

Message = dict[str, str]


class FewShotConfig(StrictModel):
    pool: str = Field(description="JSONL of examples, relative to the system file")
    k: int = Field(4, ge=1, le=64)
    select: Literal["nearest", "fixed"] = Field(
        "nearest", description="nearest: the k pool examples most similar to the input (BM25)")
    ids: list[str] | None = Field(None, description="with select: fixed, the examples to show")
    id_field: str = "id"
    input: str = Field(description="template over pool fields: the shot's {input}")
    output: str = Field(description="template over pool fields: the shot's answer "
                                    "(objects are written as JSON)")

    @model_validator(mode="after")
    def _ids_match_select(self) -> "FewShotConfig":
        if self.select == "fixed" and not self.ids:
            raise ValueError("select: fixed needs `ids` (the pool examples to show)")
        if self.select == "nearest" and self.ids:
            raise ValueError("`ids` is only used with select: fixed")
        return self


class RetrievalConfig(StrictModel):
    docs: str = Field(description="folder of .md/.txt documents, relative to the system file")
    k: int = Field(3, ge=1, le=50)
    method: Method = "bm25"
    chunk_chars: int = Field(800, ge=100, le=20000)
    overlap_chars: int = Field(150, ge=0)

    @model_validator(mode="after")
    def _overlap_below_chunk(self) -> "RetrievalConfig":
        if self.overlap_chars >= self.chunk_chars:
            raise ValueError("overlap_chars must be smaller than chunk_chars")
        return self


class PromptTemplate(StrictModel):
    system: str | None = Field(None, description="system message (optional)")
    user: str = Field("{input}", description="user message; {input} is the suite's input, "
                                             "{context} the retrieved passages")
    few_shot: FewShotConfig | None = None
    retrieval: RetrievalConfig | None = None


class SystemConfig(StrictModel):
    name: Name
    kind: Literal["prompt", "few_shot", "rag", "adapter"] = Field(
        "prompt", description="prompt | few_shot | rag (every prompt uses that technique), or "
                              "adapter: a fine-tuned model served with any mix of them per suite")
    description: str = ""
    model: str | None = Field(None, description="base model; default: the project's model")
    adapter: str | None = Field(None, description="PEFT adapter folder (relative to this file)")
    prompts: dict[str, PromptTemplate] = Field(
        default_factory=lambda: {"default": PromptTemplate()},
        description="per suite name, or `default` for every suite")
    backend: BackendConfig = Field(
        default_factory=LocalConfig,
        description="where prompts are answered: local (this process, the default) or openai "
                    "(an OpenAI-compatible endpoint: base_url, model, api_key_env)")

    @model_validator(mode="after")
    def _endpoint_names_its_model(self) -> "SystemConfig":
        if self.backend.kind != "local" and (self.model or self.adapter):
            raise ValueError(
                f"`model` and `adapter` are for the local backend; a {self.backend.kind} "
                "endpoint serves its own model: name it (or its fine-tune / LoRA id) in "
                "`backend.model`")
        return self


@dataclass(frozen=True)
class Prompt:
    """The messages for one example and what retrieval put into them (ids, for the record)."""

    messages: list[Message]
    retrieved: tuple[str, ...] = ()


@dataclass(frozen=True)
class System:
    """A validated system definition."""

    path: Path | None
    config: SystemConfig

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def folder(self) -> Path:
        return self.path.parent if self.path is not None else Path.cwd()

    @property
    def adapter_path(self) -> Path | None:
        if self.config.adapter is None:
            return None
        return (self.folder / self.config.adapter).resolve()

    def template_for(self, suite_name: str) -> tuple[str, PromptTemplate]:
        for key in (suite_name, "default"):
            if key in self.config.prompts:
                return key, self.config.prompts[key]
        raise ConfigError(
            f"system '{self.name}' has no prompt for suite '{suite_name}'",
            path=self.path, key="prompts",
            fix=f"add `prompts: {{{suite_name}: {{system: ..., user: ...}}}}` or a "
                "`default` entry")

    def prepare(self, suite: Any) -> PreparedSystem:
        """Bind this system to a suite: load its few-shot pool or documents and check them
        against the suite (a pool sharing examples with held-out data is an error)."""
        key, template = self.template_for(getattr(suite, "prompts_of", None) or suite.name)
        prepared = PreparedSystem(self, template, key)
        if template.few_shot is not None:
            prepared.load_pool(suite)
        if template.retrieval is not None:
            prepared.load_docs()
        return prepared


@dataclass
class PreparedSystem:
    """A system ready to build prompts for one suite's examples."""

    system: System
    template: PromptTemplate
    key: str
    pool: Dataset | None = None
    shots: list[tuple[str, str]] = field(default_factory=list)  # (input, output) per pool example
    pool_retriever: Retriever | None = None
    doc_retriever: Retriever | None = None
    chunks: list[Chunk] = field(default_factory=list)

    @property
    def config_sha256(self) -> str:
        """Hash of this suite's prompt entry and model reference: what shapes its outputs.

        Editing the prompt of another suite must not invalidate this suite's cached outputs, and
        the adapter counts by its content hash (in the cache key), not by the path naming it.
        The backend's identity is in the cache key too (evalgate.eval.run), so a local and an
        endpoint run of one recipe share nothing but this hash."""
        return sha256_json({"model": self.system.config.model,
                            "template": self.template.model_dump(mode="json")})

    @property
    def retrieves(self) -> bool:
        return self.doc_retriever is not None

    def build(self, input_text: str) -> Prompt:
        template = self.template
        messages: list[Message] = []
        if template.system:
            messages.append({"role": "system", "content": template.system.strip()})
        for shot_input, shot_output in self._select_shots(input_text):
            messages.append({"role": "user", "content": render(template.user,
                                                               {"input": shot_input})})
            messages.append({"role": "assistant", "content": shot_output})
        values = {"input": input_text}
        retrieved: tuple[str, ...] = ()
        if self.doc_retriever is not None:
            hits = self.doc_retriever.search(input_text, template.retrieval.k)
            retrieved = tuple(hit.chunk.id for hit in hits)
            values["context"] = ("\n\n".join(f"[{hit.chunk.id}]\n{hit.chunk.text}" for hit in hits)
                                 or "(no matching passage found)")
        messages.append({"role": "user", "content": render(template.user, values)})
        return Prompt(messages, retrieved)

    def _select_shots(self, input_text: str) -> list[tuple[str, str]]:
        config = self.template.few_shot
        if config is None:
            return []
        if config.select == "fixed":
            return self.shots
        hits = self.pool_retriever.search(input_text, config.k)
        chosen = [int(hit.chunk.id) for hit in hits]
        # Too few lexical matches: fill from the pool in file order so k is always honoured.
        for index in range(len(self.shots)):
            if len(chosen) >= config.k:
                break
            if index not in chosen:
                chosen.append(index)
        # Most similar last, right before the real question.
        return [self.shots[index] for index in reversed(chosen)]

    def load_pool(self, suite: Any) -> None:
        config = self.template.few_shot
        path = self.system.folder / config.pool
        key = f"prompts.{self.key}.few_shot"
        fields = {*placeholders(config.input), *placeholders(config.output)}
        pool = load_jsonl(path, id_field=config.id_field, required=sorted(fields))
        if config.k > len(pool):
            raise ConfigError(f"k = {config.k} but the pool has only {len(pool)} examples",
                              path=self.system.path, key=f"{key}.k",
                              fix=f"set k to at most {len(pool)} or add examples to the pool")
        shots = [(render(config.input, ex), _render_answer(config.output, ex))
                 for ex in pool.examples]
        held_out_ids = set(suite.dataset.ids())
        same_ids = sorted(held_out_ids & set(pool.ids()))
        suite_inputs = [(i, suite.render_input(ex))
                        for i, ex in zip(suite.dataset.ids(), suite.dataset.examples)]
        same_text = exact_overlap(zip(pool.ids(), (s[0] for s in shots)), suite_inputs)
        if same_ids or same_text:
            named = same_ids + [f"{p} = {s}" for p, s in same_text]
            raise ConfigError(
                f"the few-shot pool overlaps the held-out data of suite '{suite.name}': "
                f"{', '.join(named[:10])}{' …' if len(named) > 10 else ''}",
                path=self.system.path, key=f"{key}.pool",
                fix="remove these examples from the pool: a baseline must never see the "
                    "held-out answers")
        if config.select == "fixed":
            by_id = dict(zip(pool.ids(), shots))
            missing = [i for i in config.ids if i not in by_id]
            if missing:
                raise ConfigError(f"ids not in the pool: {', '.join(missing)}",
                                  path=self.system.path, key=f"{key}.ids",
                                  fix=f"use ids from {path}")
            self.shots = [by_id[i] for i in config.ids]
        else:
            self.shots = shots
            self.pool_retriever = Retriever(
                [Chunk(id=str(i), doc=pid, text=text)
                 for i, (pid, (text, _)) in enumerate(zip(pool.ids(), shots))])
        self.pool = pool

    def load_docs(self) -> None:
        config = self.template.retrieval
        key = f"prompts.{self.key}.retrieval"
        self.chunks = load_corpus(self.system.folder / config.docs, config.chunk_chars,
                                  config.overlap_chars, config_path=self.system.path,
                                  key=f"{key}.docs")
        if config.k > len(self.chunks):
            raise ConfigError(f"k = {config.k} but the documents make only {len(self.chunks)} "
                              "chunks", path=self.system.path, key=f"{key}.k",
                              fix=f"set k to at most {len(self.chunks)}")
        self.doc_retriever = Retriever(self.chunks, config.method)


def _render_answer(template: str, example: dict[str, Any]) -> str:
    """Objects and lists in an answer template are written as one-line JSON."""
    values = {name: json.dumps(value, ensure_ascii=False) if isinstance(value, (dict, list))
              else value for name, value in example.items()}
    return render(template, values)


def load_system(path: Path, *, require_adapter: bool = True) -> System:
    """A system file read and validated. `require_adapter=False` (`evalgate check`) accepts an
    `adapter:` folder that does not exist yet: a candidate is written before it is trained."""
    path = Path(path)
    config = load_yaml_model(SystemConfig, path)
    for suite_name, template in config.prompts.items():
        key = f"prompts.{suite_name}"
        allowed = {"input", "context"} if template.retrieval else {"input"}
        unknown = [name for name in placeholders(template.user) if name not in allowed]
        if unknown:
            raise ConfigError(
                f"template refers to unknown field(s) {', '.join(unknown)}",
                path=path, key=f"{key}.user",
                fix=f"a system's user template may only use {', '.join(sorted(allowed))}")
        if template.retrieval and "context" not in placeholders(template.user):
            raise ConfigError("retrieval is configured but the user template has no {context}",
                              path=path, key=f"{key}.user",
                              fix="put {context} where the retrieved passages should go")
        if template.system and placeholders(template.system):
            raise ConfigError("the system message cannot use placeholders", path=path,
                              key=f"{key}.system", fix="move {placeholders} into `user`")
        if template.few_shot and template.retrieval:
            raise ConfigError("few_shot and retrieval in one prompt are not supported",
                              path=path, key=key, fix="use one of them per prompt")
        needed = {"few_shot": "few_shot", "rag": "retrieval"}.get(config.kind)
        if needed and getattr(template, needed) is None:
            raise ConfigError(f"kind: {config.kind} needs `{needed}` in every prompt",
                              path=path, key=f"{key}.{needed}",
                              fix=f"add a `{needed}:` block or change `kind`")
        if config.kind == "prompt" and (template.few_shot or template.retrieval):
            raise ConfigError("kind: prompt cannot use few_shot or retrieval", path=path,
                              key="kind", fix="set kind: few_shot or kind: rag")
    system = System(path=path, config=config)
    adapter = system.adapter_path
    if require_adapter and adapter is not None and \
            not (adapter / "adapter_config.json").is_file():
        raise ConfigError(f"adapter folder not found or not a PEFT adapter: {adapter}",
                          path=path, key="adapter",
                          fix="point `adapter:` at a folder holding adapter_config.json")
    return system
