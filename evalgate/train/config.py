"""A training config (`training/*.yaml`) as users write it, validated strictly.

Every key is checked (a typo is an error, not a default silently used) and combinations that
cannot work are refused here, before any data or model is touched: a preference stage without a
source of pairs, pairs or stage settings for a stage the method does not run, an answer template
for conversational data. Paths are relative to the training file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal, Union

from pydantic import Field, field_validator, model_validator

from evalgate.leakage.canaries import DEFAULT_DIGITS, DEFAULT_TEMPLATE, SECRET_FIELD
from evalgate.suite.criteria import Name
from evalgate.util.jsonl import Sha256Pin
from evalgate.util.yamlio import StrictModel, load_yaml_model

Method = Literal["sft", "dpo", "sft+dpo", "kto", "sft+kto"]
PREFERENCE_STAGES = ("dpo", "kto")
Sha256 = Sha256Pin  # checked against the file when it loads (evalgate.util.jsonl.load_jsonl)


class DataConfig(StrictModel):
    path: str = Field(description="JSONL training pool, relative to the training file")
    sha256: Sha256 | None = Field(None, description="pin of the file's bytes (required)")
    id_field: str = "id"
    format: Literal["fields", "messages"] = Field(
        "fields", description="fields: prompts built by the system from `input`, answers from "
                              "`target`; messages: each row holds a `messages` conversation")
    input: str | None = Field(None, description="template over row fields: the system's {input}")
    target: str | None = Field(None, description="template over row fields: the answer "
                                                 "(objects are written as one-line JSON)")
    exclude: list[str] = Field(default_factory=list,
                               description="row ids left out of training (recorded)")

    @model_validator(mode="after")
    def _templates_match_format(self) -> DataConfig:
        if self.format == "fields" and (self.input is None or self.target is None):
            raise ValueError("format: fields needs `input` (e.g. \"{ticket}\") and `target` "
                             "(e.g. \"{expected}\")")
        if self.format == "messages" and (self.input is not None or self.target is not None):
            raise ValueError("format: messages takes prompts and answers from each row's "
                             "`messages`; remove `input` and `target`")
        return self


class HoldoutConfig(StrictModel):
    fraction: float = Field(0.1, ge=0.0, lt=1.0,
                            description="share of the pool kept out of training (non-members)")
    seed: int | None = Field(None, description="shuffle seed (default: the run's seed)")


class LoraSettings(StrictModel):
    r: int = Field(16, ge=1, le=1024)
    alpha: float = Field(32, gt=0)
    dropout: float = Field(0.05, ge=0.0, lt=1.0)
    targets: Literal["all-linear"] | list[str] = Field(
        "all-linear", description="module names, or all-linear (every linear layer but the head)")


class StageSettings(StrictModel):
    max_steps: int = Field(60, ge=1)
    batch_size: int = Field(8, ge=1)
    grad_accum: int = Field(1, ge=1)
    learning_rate: float = Field(2e-4, gt=0)
    lr_scheduler: Literal["linear", "cosine", "constant", "constant_with_warmup"] = "linear"
    warmup_steps: int = Field(0, ge=0)
    weight_decay: float = Field(0.0, ge=0)
    max_length: int = Field(1024, ge=16, description="tokens per sequence; a longer example is "
                                                     "an error (truncation would cut its EOS)")
    save_steps: int = Field(10, ge=1, description="checkpoint interval (for --resume)")


class PreferenceSettings(StageSettings):
    learning_rate: float = Field(5e-5, gt=0)
    beta: float = Field(0.1, gt=0, description="strength of the pull towards the reference")


DPOLoss = Literal["sigmoid", "hinge", "ipo", "robust", "bco_pair", "sppo_hard", "nca_pair",
                  "aot", "aot_unpaired", "apo_zero", "apo_down", "discopop", "sft", "sigmoid_norm"]


class DPOSettings(PreferenceSettings):
    loss: list[DPOLoss] = Field(default_factory=lambda: ["sigmoid"], min_length=1,
                                description="TRL loss types, summed; add `sft` for an NLL term "
                                            "on the chosen answers (RPO)")
    loss_weights: list[float] | None = Field(None, description="one weight per loss type")

    @model_validator(mode="after")
    def _weights_match(self) -> DPOSettings:
        if self.loss_weights is not None and len(self.loss_weights) != len(self.loss):
            raise ValueError(f"loss_weights has {len(self.loss_weights)} entries for "
                             f"{len(self.loss)} loss types")
        return self


# Why 16: a preference stage learns from the contrast between its pairs. With fewer than two
# batches' worth (the default batch is 8) every step shows the same handful of answers again, so
# DPO/KTO memorises those few instead of learning a preference, and whatever it changes is too
# little to move a suite of hundreds of examples beyond its noise. It is a floor, not a target.
MIN_PAIRS = 16
GUARD_KEYS = ("min_pairs", "on_too_few")  # decide whether a run goes on, not what it learns
POLICY_KEYS = ("description", "pii")  # top-level keys that do not change what an adapter learns


class PairsGuard(StrictModel):
    """How few pairs a preference stage may train on. Not part of the run id: relaxing the guard
    after a refusal continues the same run (`--resume`) with the SFT stage and pairs kept."""

    min_pairs: int = Field(MIN_PAIRS, ge=1, description=(
        "fewest preference pairs worth a preference stage; below it DPO/KTO has too little "
        "signal to matter (zero pairs never train)"))
    on_too_few: Literal["warn", "refuse"] = Field(
        "warn", description="below min_pairs: warn (train anyway, say so and record it in the "
                            "manifest) or refuse (stop before the preference stage, exit 2; the "
                            "SFT stage and the pairs are kept for --resume)")


class AutoPairs(PairsGuard):
    source: Literal["auto"]
    negatives: Literal["policy", "base"] = Field(
        "policy", description="whose failing outputs are the rejected answers: the policy the "
                              "preference stage starts from (after SFT), or the base model")
    max_prompts: int | None = Field(None, ge=1, description="member prompts to generate on "
                                                            "(default: all members)")


class FilePairs(PairsGuard):
    source: Literal["file"]
    path: str = Field(description="JSONL: id, the input fields (or `messages`), chosen, rejected")
    sha256: Sha256 | None = None


Pairs = Annotated[Union[AutoPairs, FilePairs], Field(discriminator="source")]


class CanaryConfig(StrictModel):
    """Random secrets planted in the SFT rows, so that the leakage suite can measure what the
    adapter memorised (exposure, greedy extraction) on data known to be in training."""

    count: int = Field(8, ge=1, le=1000, description="how many canaries (distinct secrets)")
    repetitions: list[Annotated[int, Field(ge=1)]] = Field(
        default_factory=lambda: [1, 4, 16], min_length=1,
        description="times each canary is inserted into the SFT rows: canary i gets "
                    "repetitions[i % len(repetitions)] (memorisation grows with repetition)")
    template: str = Field(DEFAULT_TEMPLATE, description=f"the canary's text; {SECRET_FIELD} "
                                                        "(exactly once) is replaced by its secret")
    digits: int = Field(DEFAULT_DIGITS, ge=4, le=18, description="digits of each secret")
    prompt: str = Field("What is the verification code of account {account}?", min_length=1,
                        description="the user turn of each canary conversation (the canary "
                                    "text is the assistant's answer); {account} becomes a "
                                    "number of the canary's own, so that each canary is asked "
                                    "for apart and greedy decoding can write out each one")
    seed: int | None = Field(None, description="seed of the secrets (default: the run's seed)")

    @field_validator("template")
    @classmethod
    def _one_secret(cls, template: str) -> str:
        if template.count(SECRET_FIELD) != 1:
            raise ValueError(f"the template must contain {SECRET_FIELD} exactly once (where the "
                             f"secret goes), got {template!r}")
        return template


class TrainConfig(StrictModel):
    name: Name
    description: str = ""
    suite: str = Field(description="the suite whose prompts and criteria the adapter targets")
    system: str = Field(description="system YAML: the prompt the adapter is trained and served "
                                    "with (no adapter: key)")
    model: str | None = Field(None, description="base model (default: the project's)")
    method: Method = "sft+dpo"
    seed: int = 0
    data: DataConfig
    holdout: HoldoutConfig = Field(default_factory=HoldoutConfig)
    quantization: Literal["nf4", "none"] = Field(
        "nf4", description="nf4: QLoRA on a 4-bit base (double quantisation); none: plain LoRA")
    dtype: Literal["auto", "float32", "bfloat16"] = Field(
        "auto", description="compute dtype; auto = bfloat16 where the hardware has it")
    device: str = "auto"
    gradient_checkpointing: bool = True
    lora: LoraSettings = Field(default_factory=LoraSettings)
    sft: StageSettings | None = None
    dpo: DPOSettings | None = None
    kto: PreferenceSettings | None = None
    pairs: Pairs | None = None
    canaries: CanaryConfig | None = Field(
        None, description="plant random secrets in the SFT rows (recorded in the manifest) for "
                          "the leakage suite's exposure and extraction checks")
    pii: Literal["warn", "refuse", "off"] = Field(
        "warn", description="personal data (e-mail, phone, T.C. Kimlik, IBAN, card) in the "
                            "training rows: warn (train, say so, record the counts), refuse "
                            "(exit 2 before training) or off (no scan). Write a copy with "
                            "placeholders with `evalgate pii scan DATA --scrub OUT.jsonl`. Not "
                            "part of the run id")

    @property
    def stages(self) -> tuple[str, ...]:
        return tuple(self.method.split("+"))

    @property
    def preference_stage(self) -> str | None:
        return next((s for s in self.stages if s in PREFERENCE_STAGES), None)

    def settings(self, stage: str) -> StageSettings:
        """A stage's settings, its defaults when the config leaves the block out."""
        given = getattr(self, stage)
        if given is not None:
            return given
        return {"sft": StageSettings, "dpo": DPOSettings}.get(stage, PreferenceSettings)()

    def quick(self) -> TrainConfig:
        """The `evalgate run --quick` profile: an eighth of the steps (at least 2 per stage), a
        quarter of the auto-pair prompts (at least 8) and of their `min_pairs`, under the name
        `<name>-quick` so that its adapter never takes the place of the full run's."""
        update: dict = {"name": f"{self.name}-quick"}
        for stage in self.stages:
            settings = self.settings(stage)
            steps = max(2, settings.max_steps // 8)
            update[stage] = settings.model_copy(update={
                "max_steps": steps, "save_steps": min(settings.save_steps, steps)})
        if isinstance(self.pairs, AutoPairs):
            prompts = max(8, (self.pairs.max_prompts or 32) // 4)
            update["pairs"] = self.pairs.model_copy(update={
                "max_prompts": prompts, "min_pairs": max(1, self.pairs.min_pairs // 4)})
        return self.model_copy(update=update)

    def resolved(self) -> dict:
        """The config as it will run: every stage's settings with defaults filled in."""
        data = self.model_dump(mode="json")
        for stage in self.stages:
            data[stage] = self.settings(stage).model_dump(mode="json")
        if self.canaries is not None and self.canaries.seed is None:
            data["canaries"]["seed"] = self.seed
        return data

    @model_validator(mode="after")
    def _consistent(self) -> TrainConfig:
        for stage in ("sft", "dpo", "kto"):
            if getattr(self, stage) is not None and stage not in self.stages:
                raise ValueError(f"`{stage}:` settings are given but method '{self.method}' has no "
                                 f"{stage} stage (remove the block or change `method`)")
        preference = self.preference_stage
        if preference and self.pairs is None:
            raise ValueError(f"method '{self.method}' needs preference pairs: add `pairs: "
                             "{source: auto}` (rejected = the model's own failing outputs) or "
                             "`pairs: {source: file, path: ...}`")
        if not preference and self.pairs is not None:
            raise ValueError(f"`pairs` is given but method '{self.method}' has no preference "
                             "stage (use sft+dpo, or remove `pairs`)")
        return self


def load_train_config(path: Path) -> TrainConfig:
    return load_yaml_model(TrainConfig, Path(path))
