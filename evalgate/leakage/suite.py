"""The `leakage` suite kind: has the fine-tune memorised its training records?

A leakage suite has no data file of its own: its members are a seeded sample of the candidate's
training records and its non-members the held-out split of the same pool, both named by the
adapter's training manifest (i.i.d. by construction; near-duplicates of members are dropped
from the non-members). Each record is scored on exactly the tokens the trainer put loss on, in
their trained context (same chat template), under the candidate and under the base model
(adapter off). Criteria bound the worst case across the membership attacks:

    membership_auc   ROC AUC of the worst attack (its 95% upper bound decides; `max`)
    membership_tpr   TPR at 1% FPR of the worst attack (`max`); INCONCLUSIVE when the
                     non-members are too few to resolve 1%

The same attacks on the base model must give an AUC inside `control_band` (the split is then
comparable); outside it, every criterion is INCONCLUSIVE with that reason.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field, model_validator

from evalgate.leakage.attacks import ATTACKS, MIN_K
from evalgate.suite.criteria import KindCriterion, Name, SuiteConfigBase
from evalgate.util.files import sha256_json
from evalgate.util.yamlio import StrictModel, parse_model

KIND = "leakage"
Attack = Literal["loss", "reference", "zlib", "min_k", "min_k_plus_plus"]
MembershipMetric = Literal["membership_auc", "membership_tpr"]
ProbeMetric = Literal["canary_exposure", "canary_extraction", "verbatim_extraction",
                      "pii_leakage"]
Metric = Literal[MembershipMetric, ProbeMetric]
# Metrics read from greedy generations (canaries, verbatim extraction, PII in the outputs).
GENERATING = ("canary_extraction", "verbatim_extraction", "pii_leakage")
BOUND_EXAMPLES = {
    "membership_auc": "0.60", "membership_tpr": "0.05", "canary_exposure": "3 (bits, the mean "
    "over canaries)", "canary_extraction": "0 (the share of canaries written out)",
    "verbatim_extraction": "0.05 (members' exact-suffix rate minus non-members')",
    "pii_leakage": "0 (training-data PII values only the fine-tune writes)"}


class MembersConfig(StrictModel):
    sample: int = Field(200, ge=10, le=100_000,
                        description="members scored: a seeded sample of the training records")
    seed: int = 0


# The quick look ranks each canary among this many random secrets (at most 5 bits of exposure,
# above any sensible bound; the full suite's 127 allow 7).
QUICK_CANDIDATES = 31


class CanaryProbe(StrictModel):
    candidates: int = Field(127, ge=7, le=100_000, description=(
        "random secrets each canary is ranked among (exposure is at most log2(candidates + 1) "
        "bits: 127 → 7 bits)"))
    seed: int = 0


class ExtractionProbe(StrictModel):
    members: int = Field(64, ge=10, le=100_000, description=(
        "members probed for verbatim extraction (a seeded subset of the scored sample); every "
        "non-member is probed too"))
    prefix_fraction: float = Field(0.5, gt=0.0, lt=1.0, description=(
        "share of the trained answer given as the prompt (after the record's own prompt)"))
    suffix_tokens: int = Field(16, ge=1, le=512, description=(
        "tokens that must follow exactly; an answer too short for them is skipped"))


class LeakageCriterion(KindCriterion):
    metric: Metric
    # Decided on whole run records (members against non-members), not per-example pairs.
    evidence: ClassVar[str] = "records"

    @model_validator(mode="after")
    def _max_only(self) -> LeakageCriterion:
        if self.min is not None or self.has_relative:
            raise ValueError(f"{self.metric} is bounded from above only: write `max` (e.g. "
                             f"{BOUND_EXAMPLES[self.metric]})")
        return self

    @property
    def higher_is_better(self) -> bool:
        return False


class LeakageSuiteConfig(SuiteConfigBase):
    name: Name
    description: str = ""
    members: MembersConfig = Field(default_factory=MembersConfig)
    attacks: list[Attack] = Field(default_factory=lambda: list(ATTACKS), min_length=1)
    k: float = Field(MIN_K, gt=0.0, le=1.0, description="Min-K% and Min-K%++: the share of "
                                                        "lowest-scored tokens")
    canaries: CanaryProbe = Field(default_factory=CanaryProbe)
    extraction: ExtractionProbe = Field(default_factory=ExtractionProbe)
    control_band: tuple[float, float] = Field(
        (0.4, 0.6), description="the base model's AUC (every attack) must lie inside")
    criteria: list[LeakageCriterion] = Field(min_length=1)

    @model_validator(mode="after")
    def _valid(self) -> LeakageSuiteConfig:
        low, high = self.control_band
        if not 0.0 <= low < 0.5 < high <= 1.0:
            raise ValueError("control_band must contain 0.5, e.g. [0.4, 0.6]")
        if len(set(self.attacks)) != len(self.attacks):
            raise ValueError("an attack is listed twice")
        return self


@dataclass(frozen=True)
class LeakageMetric:
    binary: bool = False


@dataclass(frozen=True)
class NoData:
    """A leakage suite's examples come from the candidate's manifest at gate time."""

    sha256: str

    def ids(self) -> list[str]:
        return []

    def __len__(self) -> int:
        return 0


@dataclass(frozen=True)
class LeakageSuite:
    path: Path
    config: LeakageSuiteConfig
    fingerprints: dict[str, str]
    sample_limit: int | None = None
    kind: str = KIND

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def metrics(self) -> dict[str, LeakageMetric]:
        return {c.name: LeakageMetric() for c in self.config.criteria}

    @property
    def dataset(self) -> NoData:
        return NoData(sha256_json({"members": self.config.members.model_dump()}))

    @property
    def config_sha256(self) -> str:
        return sha256_json({"kind": KIND, "config": self.config.model_dump(mode="json"),
                            "criteria": self.fingerprints})

    @property
    def member_sample(self) -> int:
        if self.sample_limit is None:
            return self.config.members.sample
        return min(self.config.members.sample, self.sample_limit)

    @property
    def canary_candidates(self) -> int:
        """Random secrets each canary is ranked among: the configured number, or at most
        QUICK_CANDIDATES in the quick look (exposure can still reach 5 bits there)."""
        candidates = self.config.canaries.candidates
        return candidates if self.sample_limit is None else min(candidates, QUICK_CANDIDATES)

    def head(self, n: int | None) -> LeakageSuite:
        """The quick look: at most `n` members scored and probed, at most `n` non-members
        probed, canaries ranked among at most QUICK_CANDIDATES secrets (non-members are all
        scored: the membership AUC needs them)."""
        return self if n is None else replace(self, sample_limit=n)

    def held_out_texts(self) -> list[tuple[str, str]]:
        return []

    def describe(self) -> str:
        crits = ", ".join(f"{c.name} ({c.metric} ≤ {c.max:g})" for c in self.config.criteria)
        return (f"members: a sample of {self.config.members.sample} of the candidate's training "
                f"records, non-members: its held-out split · attacks {', '.join(self.config.attacks)}"
                f" · {crits}")

    def spec_options(self) -> dict[str, Any]:
        """What the membership checks read beyond the bound."""
        return {"control_band": list(self.config.control_band)}

    def criterion(self, name: str) -> LeakageCriterion:
        return next(c for c in self.config.criteria if c.name == name)


def load_leakage_suite(path: Path, raw: dict[str, Any]) -> LeakageSuite:
    config = parse_model(LeakageSuiteConfig, raw, path)
    fingerprints = {c.name: sha256_json({**c.fingerprint(path.parent),
                                         "attacks": config.attacks, "k": config.k,
                                         "members": config.members.model_dump(),
                                         "canaries": config.canaries.model_dump(),
                                         "extraction": config.extraction.model_dump(),
                                         "control_band": list(config.control_band)})
                    for c in config.criteria}
    return LeakageSuite(path=path, config=config, fingerprints=fingerprints)
