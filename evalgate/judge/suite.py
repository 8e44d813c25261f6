"""The `judge` suite kind: is the candidate's answer *preferred* to the best baseline's, where no
exact reference exists (tone, helpfulness, policy)? A judge model compares the two answers to
each prompt in both orders, under a rubric written in the suite file; before its verdicts count
it is validated on gold preference pairs.

    kind: judge
    name: policy_judge
    data: data/policy_qa.jsonl          # the prompts (pinned by sha256), as a task suite's
    sha256: …
    input: "{question}"
    prompts_of: policy_qa               # systems answer with their prompt for this suite
    generation: {max_new_tokens: 48}
    rubric: |
      A better answer states the correct fact …
    against: best                       # every baseline; the one the candidate beats least is
                                        # the bar (or one baseline's name)
    judge:                              # any backend; default: the project's base model, local
      backend: local                    # log-probs of "A" / "B": no parsing
      # backend: {kind: openai, base_url: …, model: …, api_key_env: …}   strict JSON verdicts
    gold:                               # preference pairs with a known answer (judge validation)
      path: data/policy_judge_gold.jsonl
      sha256: …
      min_agreement: 0.75               # below it, the criterion is INCONCLUSIVE: not trusted
    criteria:
      - name: preferred
        metric: judge_win_rate
        min: 0.5                        # the win rate's 95% interval must lie above it

The answers are generated exactly as for a task suite (the same prompts give the same cached
outputs); `answers_suite()` is that task-shaped view.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field, model_validator

from evalgate.errors import ConfigError
from evalgate.suite.criteria import KindCriterion, Name, SuiteConfigBase
from evalgate.suite.load import GenerationConfig, Suite, SuiteConfig
from evalgate.systems.backends import BackendConfig, LocalConfig
from evalgate.util.files import sha256_json
from evalgate.util.jsonl import Dataset, Sha256Pin, load_jsonl
from evalgate.util.templates import placeholders, render
from evalgate.util.yamlio import StrictModel, parse_model

KIND = "judge"
PREFERENCES = ("a", "b")


class JudgeModelConfig(StrictModel):
    backend: BackendConfig = Field(
        default_factory=LocalConfig,
        description="local (in-process; the verdict is read from log-probs) or openai (an "
                    "OpenAI-compatible endpoint; the verdict is strict JSON)")
    model: str | None = Field(None, description="local only: the judge model (default: the "
                                                "project's base model)")
    max_new_tokens: int = Field(32, ge=8, le=512, description="endpoint: tokens for the verdict")
    json_retries: int = Field(2, ge=0, le=10, description="endpoint: asks again after an "
                                                          "unparseable verdict")

    @model_validator(mode="after")
    def _model_is_local(self) -> JudgeModelConfig:
        if self.model is not None and self.backend.kind != "local":
            raise ValueError("`model` names a local judge model; an endpoint judge is named by "
                             "`backend.model`")
        return self


class GoldConfig(StrictModel):
    path: str = Field(description="JSONL of gold pairs: id, question, a, b, preferred (a | b)")
    sha256: Sha256Pin | None = None
    min_agreement: float = Field(
        0.75, gt=0.0, le=1.0,
        description="the judge's share of gold pairs decided as the gold label says (in both "
                    "orders); below it the criterion is INCONCLUSIVE: judge not trusted")


class JudgeCriterion(KindCriterion):
    metric: Literal["judge_win_rate"]
    # Decided on the whole record (the judge's validation travels with the verdicts).
    evidence: ClassVar[str] = "records"

    @model_validator(mode="after")
    def _min_only(self) -> JudgeCriterion:
        if self.max is not None or self.has_relative or self.min is None:
            raise ValueError("judge_win_rate takes `min` only: the win rate against the best "
                             "baseline (ties count one half) must surely exceed it, e.g. "
                             "min: 0.5")
        if not 0.0 < self.min < 1.0:
            raise ValueError("`min` is a win rate: between 0 and 1 (0.5: preferred more often "
                             "than not)")
        return self

    @property
    def higher_is_better(self) -> bool:
        return True


class JudgeSuiteConfig(SuiteConfigBase):
    name: Name
    description: str = ""
    data: str = Field(description="JSONL of prompts, relative to the suite file")
    sha256: Sha256Pin | None = None
    id_field: str = "id"
    input: str = Field(description="template over example fields, e.g. '{question}'")
    prompts_of: Name | None = Field(
        None, description="systems answer with their prompt for this suite (default: this "
                          "suite's name)")
    generation: GenerationConfig = Field(default_factory=GenerationConfig)
    rubric: str = Field(min_length=20, description="what makes one answer better than another")
    against: Name | Literal["best"] = Field(
        "best", description="best: every baseline, the one the candidate beats least is the "
                            "bar; or one baseline's name")
    judge: JudgeModelConfig = Field(default_factory=JudgeModelConfig)
    gold: GoldConfig | None = Field(
        None, description="gold preference pairs: without them the judge is not validated and "
                          "the criterion is INCONCLUSIVE")
    criteria: list[JudgeCriterion] = Field(min_length=1)


@dataclass(frozen=True)
class JudgeMetric:
    binary: bool = False


@dataclass(frozen=True)
class JudgeSuite:
    path: Path
    config: JudgeSuiteConfig
    dataset: Dataset
    gold: Dataset | None
    fingerprints: dict[str, str]
    kind: str = KIND
    metrics: dict[str, JudgeMetric] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def config_sha256(self) -> str:
        return sha256_json({"kind": KIND, "config": self.config.model_dump(mode="json"),
                            "data": self.dataset.sha256,
                            "gold": self.gold.sha256 if self.gold is not None else None,
                            "criteria": self.fingerprints})

    def head(self, n: int | None) -> JudgeSuite:
        if n is None or n >= len(self.dataset):
            return self
        return replace(self, dataset=replace(self.dataset, examples=self.dataset.examples[:n]))

    def render_input(self, example: dict[str, Any]) -> str:
        return render(self.config.input, example)

    def held_out_texts(self) -> list[tuple[str, str]]:
        return [(i, self.render_input(e)) for i, e in zip(self.dataset.ids(),
                                                           self.dataset.examples)]

    def spec_options(self) -> dict[str, Any]:
        gold = self.config.gold
        return {"min_agreement": gold.min_agreement if gold is not None else None}

    def describe(self) -> str:
        c = self.config
        judge = c.judge.backend
        who = (f"{judge.model} at {judge.base_url} (strict JSON)" if judge.kind != "local"
               else f"{c.judge.model or 'the base model'}, local (log-probs)")
        gold = (f"{len(self.gold)} gold pairs pinned (agreement ≥ {c.gold.min_agreement:g})"
                if self.gold is not None else "no gold pairs: the judge is not validated")
        crits = ", ".join(f"{x.name} (win rate > {x.min:g})" for x in c.criteria)
        return (f"{len(self.dataset)} prompts pinned, answered with the prompts for "
                f"{c.prompts_of or c.name} · against {c.against} · judge {who} · {gold} · "
                f"{crits}")

    def criterion(self, name: str) -> JudgeCriterion:
        return next(c for c in self.config.criteria if c.name == name)

    def answers_suite(self) -> Suite:
        """The task-shaped view the evaluation loop runs: the same prompts, no criteria (the
        judge decides), answered with each system's prompt for `prompts_of`."""
        c = self.config
        config = SuiteConfig.model_construct(
            name=c.name, description=c.description, data=c.data, sha256=c.sha256,
            id_field=c.id_field, input=c.input, generation=c.generation, gold_doc_field=None,
            criteria=[], on_long_input="error")
        return Suite(path=self.path, config=config, dataset=self.dataset, metrics={},
                     fingerprints={}, prompts_of=c.prompts_of)


def load_judge_suite(path: Path, raw: dict[str, Any]) -> JudgeSuite:
    config = parse_model(JudgeSuiteConfig, raw, path)
    _require_pin(path, config.data, config.sha256, "sha256")
    fields = placeholders(config.input)
    if not fields:
        raise ConfigError("the input template uses no example field", path=path, key="input",
                          fix="refer to a field of the prompts, e.g. `input: \"{question}\"`")
    dataset = load_jsonl(path.parent / config.data, id_field=config.id_field,
                         required=sorted(fields), expected_sha256=config.sha256, pinned_by=path)
    gold = None
    if config.gold is not None:
        _require_pin(path, config.gold.path, config.gold.sha256, "gold.sha256")
        gold = load_jsonl(path.parent / config.gold.path, id_field="id",
                          required=["question", "a", "b", "preferred"],
                          expected_sha256=config.gold.sha256, pin_key="gold.sha256",
                          pinned_by=path)
        for index, pair in enumerate(gold.examples):
            if pair["preferred"] not in PREFERENCES:
                raise ConfigError(
                    f"gold pair '{pair['id']}': preferred is {pair['preferred']!r}",
                    path=gold.path, line=gold.line_of(index),
                    fix="write \"a\" or \"b\" (the answer a careful reader prefers; leave out "
                        "pairs without a clear winner)")
            for side in ("question", "a", "b"):
                if not isinstance(pair[side], str) or not pair[side].strip():
                    raise ConfigError(f"gold pair '{pair['id']}': `{side}` must be non-empty text",
                                      path=gold.path, line=gold.line_of(index),
                                      fix=f"write the {side} as a string")
    fingerprints = {c.name: sha256_json({**c.fingerprint(path.parent), "rubric": config.rubric,
                                         "against": config.against,
                                         "judge": config.judge.model_dump(mode="json"),
                                         "gold": gold.sha256 if gold is not None else None,
                                         "min_agreement": config.gold.min_agreement
                                         if config.gold else None})
                    for c in config.criteria}
    return JudgeSuite(path=path, config=config, dataset=dataset, gold=gold,
                      fingerprints=fingerprints,
                      metrics={c.name: JudgeMetric() for c in config.criteria})


def _require_pin(path: Path, data: str, pin: str | None, key: str) -> None:
    if pin is not None:
        return
    from evalgate.util.files import sha256_file

    data_path = path.parent / data
    actual = sha256_file(data_path) if data_path.is_file() else "<sha256 of the file>"
    raise ConfigError("the file is not pinned", path=path, key=key,
                      fix=f"add `{key.split('.')[-1]}: {actual}` so it cannot change silently")
