"""The gate's results as frozen values: one CheckResult per bound of each criterion, and the
Verdict that collects them with every hash needed to trace and recompute it.

    decision   PROMOTE only if every check passes; REJECT if any fails; INCONCLUSIVE if none
               fails but at least one cannot be decided (more examples would settle it)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

PROMOTE, REJECT, INCONCLUSIVE = "PROMOTE", "REJECT", "INCONCLUSIVE"
VERDICT_FORMAT = 1


@dataclass(frozen=True)
class Figures:
    value: float
    low: float
    high: float


@dataclass(frozen=True)
class CheckResult:
    """One bound of one criterion: `kind` is min | max | beat_baseline | max_drop."""

    suite: str
    criterion: str
    metric: str
    kind: str
    bound: float
    bound_text: str
    status: str
    reason: str
    n: int
    candidate: Figures
    baseline_system: str | None = None
    baseline: Figures | None = None
    delta: Figures | None = None
    p_value: float | None = None
    discordant: tuple[int, int] | None = None
    more_examples: int | None = None

    @property
    def relative(self) -> bool:
        return self.kind in ("beat_baseline", "max_drop")

    @property
    def label(self) -> str:
        return f"{self.suite}/{self.criterion} [{self.kind}]"

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        if self.discordant is not None:
            data["discordant"] = list(self.discordant)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CheckResult:
        data = dict(data)
        for key in ("candidate", "baseline", "delta"):
            if data.get(key) is not None:
                data[key] = Figures(**data[key])
        if data.get("discordant") is not None:
            data["discordant"] = tuple(data["discordant"])
        return cls(**data)


@dataclass(frozen=True)
class Verdict:
    decision: str
    checks: tuple[CheckResult, ...]
    reasons: tuple[str, ...]
    created_at: str
    evalgate_version: str
    adapter: dict[str, Any]
    manifest: dict[str, Any]
    base_model: dict[str, Any]
    suites: dict[str, Any]
    criteria: tuple[dict[str, Any], ...]
    records: dict[str, Any]
    baseline_record: dict[str, Any]
    statistics: dict[str, Any]
    allow_changed_criteria: bool = False
    changed_criteria: tuple[str, ...] = ()
    warnings: tuple[str, ...] = field(default_factory=tuple)

    @property
    def promoted(self) -> bool:
        return self.decision == PROMOTE

    def counts(self) -> dict[str, int]:
        result = {"PASS": 0, "FAIL": 0, "INCONCLUSIVE": 0}
        for check in self.checks:
            result[check.status] = result.get(check.status, 0) + 1
        return result

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["checks"] = [check.to_json() for check in self.checks]
        for key in ("reasons", "criteria", "changed_criteria", "warnings"):
            data[key] = list(data[key])
        return {"format": VERDICT_FORMAT, **data}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Verdict:
        data = dict(data)
        data.pop("format", None)
        data["checks"] = tuple(CheckResult.from_json(c) for c in data["checks"])
        for key in ("reasons", "criteria", "changed_criteria", "warnings"):
            data[key] = tuple(data.get(key, ()))
        return cls(**data)

    def __rich__(self):
        from evalgate.report.gate_console import render_verdict

        return render_verdict(self)
