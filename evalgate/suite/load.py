"""A suite: held-out data pinned by hash, an input template, generation settings and criteria."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SerializerFunctionWrapHandler, model_serializer

from evalgate.errors import ConfigError
from evalgate.metrics.base import Metric
from evalgate.suite.criteria import Criterion, Name, SuiteConfigBase
from evalgate.util.files import sha256_json
from evalgate.util.jsonl import Dataset, Sha256Pin, load_jsonl
from evalgate.util.templates import placeholders, render
from evalgate.util.yamlio import StrictModel, parse_model


class GenerationConfig(StrictModel):
    max_new_tokens: int = Field(128, ge=1, le=8192)
    stop: list[str] = Field(default_factory=list)


class SuiteConfig(SuiteConfigBase):
    name: Name
    description: str = ""
    data: str = Field(description="JSONL file, relative to the suite file")
    sha256: Sha256Pin | None = Field(None, description="pin of the data file's bytes")
    id_field: str = "id"
    input: str = Field(description="template over example fields, e.g. '{ticket}'")
    generation: GenerationConfig = Field(default_factory=GenerationConfig)
    gold_doc_field: str | None = Field(
        None, description="example field naming the document that holds the answer; RAG "
                          "systems then report retrieval recall@k")
    criteria: list[Criterion] = Field(min_length=1)
    on_long_input: Literal["error", "truncate"] = Field(
        "error", description="a prompt that leaves no room for max_new_tokens in the model's "
                             "window: error (name the examples before any model loads) or "
                             "truncate (cut the example's input, recorded per example)")

    @model_serializer(mode="wrap")
    def _omit_defaults_added_later(self, handler: SerializerFunctionWrapHandler):
        # Keys added after suites were first hashed dump only when set: existing caches, run
        # keys and training pins stay valid.
        data = handler(self)
        if isinstance(data, dict) and data.get("on_long_input") == "error":
            del data["on_long_input"]
        return data


@dataclass(frozen=True)
class Suite:
    """A validated suite with its data loaded and its metrics built."""

    path: Path
    config: SuiteConfig
    dataset: Dataset
    metrics: dict[str, Metric]
    fingerprints: dict[str, str]
    # Systems answer this suite with their prompt for another suite (a judge suite asks the
    # same questions as a task suite, so the outputs are the task suite's cached ones).
    prompts_of: str | None = None

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def config_sha256(self) -> str:
        """Hash of what decides results: config (incl. criteria) and the data hash."""
        return sha256_json({"config": self.config.model_dump(mode="json", by_alias=True),
                            "data": self.dataset.sha256, "criteria": self.fingerprints})

    def head(self, n: int | None) -> Suite:
        """The first `n` examples in file order, same config and pins (so the same
        config_sha256): a quick look whose per-example outputs and scores are those of a full
        run, since the cache is per example."""
        if n is None or n >= len(self.dataset):
            return self
        return replace(self, dataset=replace(self.dataset, examples=self.dataset.examples[:n]))

    def render_input(self, example: dict[str, Any]) -> str:
        return render(self.config.input, example)

    def criterion(self, name: str):
        return next(c for c in self.config.criteria if c.name == name)

    def held_out_texts(self) -> list[tuple[str, str]]:
        """(id, rendered input) of every example: what training data must never contain."""
        return [(i, self.render_input(ex))
                for i, ex in zip(self.dataset.ids(), self.dataset.examples)]


def load_suite(path: Path) -> Suite:
    """Read, validate and load a suite of any kind (evalgate.suite.kinds); every problem is a
    ConfigError naming file and key."""
    from evalgate.suite.kinds import load_any_suite

    return load_any_suite(Path(path))


def load_task_suite(path: Path, raw: dict[str, Any]) -> Suite:
    """A task suite (the default kind): held-out examples, an input template, criteria."""
    config = parse_model(SuiteConfig, raw, path)
    if config.sha256 is None:
        from evalgate.util.files import sha256_file

        data_path = path.parent / config.data
        actual = sha256_file(data_path) if data_path.is_file() else "<sha256 of the data file>"
        raise ConfigError("the data file is not pinned", path=path, key="sha256",
                          fix=f"add `sha256: {actual}` so the data cannot change silently")
    fields = placeholders(config.input)
    if not fields:
        raise ConfigError("the input template uses no example field", path=path, key="input",
                          fix="refer to a field of the examples, e.g. `input: \"{question}\"`")
    references = [getattr(c, "reference") for c in config.criteria if hasattr(c, "reference")]
    gold = [config.gold_doc_field] if config.gold_doc_field else []
    dataset = load_jsonl(path.parent / config.data, id_field=config.id_field,
                         required=[*fields, *references, *gold], expected_sha256=config.sha256,
                         pinned_by=path)
    metrics = {c.name: c.build(path.parent, path) for c in config.criteria}
    check_references(dataset, metrics, path)
    fingerprints = {c.name: sha256_json(c.fingerprint(path.parent)) for c in config.criteria}
    return Suite(path=path, config=config, dataset=dataset, metrics=metrics,
                 fingerprints=fingerprints)


def check_references(dataset: Dataset, metrics: dict[str, Metric], suite_path: Path) -> None:
    """Every example's reference must be one its criteria can score: found here, as an input
    error naming the data file and line, before any model loads (not as a crash mid-run)."""
    for index, example in enumerate(dataset.examples):
        for name, metric in metrics.items():
            problem = metric.reference_problem(example)
            if problem is not None:
                raise ConfigError(
                    f"example '{example[dataset.id_field]}': {problem.message} (criterion "
                    f"'{name}' of {suite_path.name})", path=dataset.path,
                    line=dataset.line_of(index), fix=problem.fix)
