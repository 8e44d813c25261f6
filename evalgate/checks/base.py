"""What every check is: a decision with PASS / FAIL / INCONCLUSIVE and the figures behind it.

A check is registered by name (`register`). Two scopes exist:

    criterion checks   one per bound of a criterion (`min`, `max`, `beat_baseline`,
                       `max_drop`, …): `applies(spec)` says whether a criterion has that bound,
                       `decide(evidence)` decides it from per-example scores
    gate checks        one per gate (`criteria_fixed`, …): `decide(gate evidence)` from the
                       training manifest and the suites as they are now

The gate, the reports and the pytest plugin iterate over the registry; a new kind of check is
a new module that registers itself (imported by `evalgate.checks`), never a new branch in a loop.
Checks decide and record facts; the words that explain a result are rendering's business
(`evalgate.report.wording`).

One rule decides an interval against a bound (`decide_interval`); every check and a single
run's criterion results use it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from enum import Enum
from functools import cached_property
from typing import Any, ClassVar, Protocol

from evalgate.stats import (
    BOOTSTRAP_RESAMPLES,
    BOOTSTRAP_SEED,
    Estimate,
    PairedEstimate,
    estimate_mean,
    paired_estimate,
)


class Status(str, Enum):
    PASS = "PASS"
    FAIL = "FAIL"
    INCONCLUSIVE = "INCONCLUSIVE"
    RELATIVE = "RELATIVE"  # a single run with only relative bounds: the gate decides

    def __str__(self) -> str:
        return self.value


def decide_interval(low: float, high: float, bound: float, *, above: bool,
                    strict: bool = False) -> Status:
    """PASS when the whole interval is on the passing side of `bound`, FAIL when it is wholly
    on the other side, else INCONCLUSIVE (the data cannot decide). `above`: passing means
    greater; `strict`: the bound itself does not pass (for differences that must exceed it)."""
    if above:
        passes = low > bound if strict else low >= bound
        fails = high <= bound if strict else high < bound
    else:
        passes = high < bound if strict else high <= bound
        fails = low >= bound if strict else low > bound
    return Status.PASS if passes else Status.FAIL if fails else Status.INCONCLUSIVE


@dataclass(frozen=True)
class Figures:
    value: float
    low: float
    high: float


@dataclass(frozen=True)
class CriterionSpec:
    """What the gate needs of one criterion; stored in the verdict, so that a verdict can be
    recomputed from run records alone."""

    suite: str
    name: str
    metric: str
    binary: bool
    min: float | None
    max: float | None
    beat_margin: float | None
    max_drop: float | None
    higher_is_better: bool
    fingerprint: str
    # Accuracy of guessing, for criteria whose baseline can sit at chance (capability suites):
    # a drop cannot show where there is nothing to lose.
    chance: float | None = None
    # Settings of the suite a check needs beyond the bounds (e.g. a leakage suite's control
    # band); plain JSON values.
    options: dict[str, Any] | None = None
    # What the criterion is decided on: "examples" (per-example scores, paired by id with the
    # reference) or "records" (whole run records, e.g. membership attacks over a split).
    evidence: str = "examples"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CriterionSpec:
        return cls(**{key: data[key] for key in cls.__dataclass_fields__ if key in data})


@dataclass(frozen=True)
class CheckResult:
    """One decided check. `kind` names the registered check; `setting` is the bound as the
    user wrote it (a margin, a drop), `bound` the value the interval was compared with;
    `detail` names a special case for the wording (e.g. "mcnemar": the interval passed but
    McNemar's test did not agree; "waived": allowed by a flag)."""

    suite: str
    criterion: str
    metric: str
    kind: str
    bound: float
    bound_text: str
    status: Status
    n: int
    candidate: Figures | None
    baseline_system: str | None = None
    baseline: Figures | None = None
    delta: Figures | None = None
    p_value: float | None = None
    discordant: tuple[int, int] | None = None
    more_examples: int | None = None
    setting: float | None = None
    detail: str | None = None
    notes: tuple[str, ...] = ()

    @property
    def relative(self) -> bool:
        """Decided on the paired difference with the best baseline (Δ and p matter)."""
        import evalgate.checks  # noqa: F401 - every built-in check is registered on import

        check = CHECKS.get(self.kind)
        return bool(check is not None and check.paired)

    @property
    def label(self) -> str:
        return f"{self.suite}/{self.criterion} [{self.kind}]"

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["status"] = self.status.value
        data["discordant"] = list(self.discordant) if self.discordant is not None else None
        data["notes"] = list(self.notes)
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CheckResult:
        known = {key: data[key] for key in cls.__dataclass_fields__ if key in data}
        for key in ("candidate", "baseline", "delta"):
            if known.get(key) is not None:
                known[key] = Figures(**known[key])
        if known.get("discordant") is not None:
            known["discordant"] = tuple(known["discordant"])
        known["notes"] = tuple(known.get("notes") or ())
        known["status"] = Status(known["status"])
        return cls(**known)


@dataclass
class CriterionEvidence:
    """Everything a criterion check may read: the candidate's and (if recorded) the best
    baseline's per-example scores, paired by example id. Estimates are computed once and
    shared by every check of the criterion."""

    spec: CriterionSpec
    ids: list[str]
    candidate: list[float]
    baseline_system: str | None = None
    baseline: list[float] | None = None
    resamples: int = BOOTSTRAP_RESAMPLES
    seed: int = BOOTSTRAP_SEED

    @cached_property
    def own(self) -> Estimate:
        return estimate_mean(self.candidate, self.spec.binary)

    @cached_property
    def baseline_estimate(self) -> Estimate | None:
        if self.baseline is None:
            return None
        return estimate_mean(self.baseline, self.spec.binary)

    @cached_property
    def paired(self) -> PairedEstimate | None:
        if self.baseline is None:
            return None
        return paired_estimate(self.candidate, self.baseline, self.spec.binary, self.resamples,
                               self.seed)

    def common(self) -> dict[str, Any]:
        """The figures every row of this criterion shows, whatever decided it."""
        own, base, paired = self.own, self.baseline_estimate, self.paired
        return dict(
            suite=self.spec.suite, criterion=self.spec.name, metric=self.spec.metric,
            n=len(self.ids), candidate=Figures(own.value, own.low, own.high),
            baseline_system=self.baseline_system,
            baseline=Figures(base.value, base.low, base.high) if base else None,
            delta=Figures(paired.delta, paired.low, paired.high) if paired else None,
            p_value=paired.p_value if paired else None,
            discordant=(paired.b, paired.c) if paired and paired.b is not None else None)


@dataclass
class RecordEvidence:
    """For checks decided on whole run records rather than one score per paired example (a
    leakage suite's attacks separate members from non-members): the candidate's record and
    the reference's (the base model's), as the verdict names them."""

    spec: CriterionSpec
    candidate: Any  # RunRecord
    baseline_system: str | None = None
    baseline: Any | None = None


@dataclass(frozen=True)
class GateEvidence:
    """What a gate check may read: the training manifest (or None for a candidate without
    one), the suites as they are now, and the flags the user passed."""

    manifest: Any
    suites: tuple[Any, ...]
    allow_changed_criteria: bool = False
    # The suites are a part of the project's (pytest runs one suite file at a time): a suite
    # the manifest pinned but not among them was not removed, only not asked about.
    partial: bool = False
    extra: Mapping[str, Any] = field(default_factory=dict)
    # evalgate.lock (evalgate.project.lock.Lock): the provenance of a candidate evalgate did
    # not train, in place of a manifest.
    lock: Any = None


class CriterionCheck(Protocol):
    """A check decided once per criterion that has its bound."""

    kind: ClassVar[str]
    paired: ClassVar[bool]  # decided on the paired difference with the best baseline
    needs: ClassVar[frozenset[str]]  # what it reads: {"candidate"}, {"candidate", "baseline"}

    def applies(self, spec: CriterionSpec) -> bool: ...

    def decide(self, evidence: CriterionEvidence) -> CheckResult: ...


class GateCheck(Protocol):
    """A check decided once per gate (provenance and the like)."""

    kind: ClassVar[str]
    paired: ClassVar[bool]
    needs: ClassVar[frozenset[str]]

    def decide(self, evidence: GateEvidence) -> CheckResult | None: ...


CHECKS: dict[str, CriterionCheck | GateCheck] = {}
CRITERION_CHECKS: dict[str, CriterionCheck] = {}
GATE_CHECKS: dict[str, GateCheck] = {}


def register(check_class: type) -> type:
    """Class decorator: make one instance of the check and register it by its `kind`. The
    order of registration is the order of rows in the gate and the reports."""
    check = check_class()
    if check.kind in CHECKS:
        raise ValueError(f"check '{check.kind}' is registered twice")
    CHECKS[check.kind] = check
    if check_class.scope == "gate":
        GATE_CHECKS[check.kind] = check
    else:
        CRITERION_CHECKS[check.kind] = check
    return check_class
