"""The gate's result as a frozen value: every check with its figures, and every hash needed to
trace and recompute it. Written and read by this module only (`to_json` / `from_json`).

    decision   PROMOTE only if every check passes and one proves the candidate better than the
               best baseline; REJECT if any fails; INCONCLUSIVE if none fails but at least one
               cannot be decided (more examples would settle it)

Format 2 stores checks as facts (status, figures, bound, setting, detail); the sentences that
explain them are rendered from those facts (evalgate.report.wording). Format 1 verdicts (with
sentences and no `setting`/`detail`) are read and upgraded.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from evalgate.checks import CheckResult, CriterionSpec, Status

PROMOTE, REJECT, INCONCLUSIVE = "PROMOTE", "REJECT", "INCONCLUSIVE"
VERDICT_FORMAT = 2


@dataclass(frozen=True)
class Verdict:
    decision: str
    checks: tuple[CheckResult, ...]
    created_at: str
    evalgate_version: str
    adapter: dict[str, Any]
    manifest: dict[str, Any]
    base_model: dict[str, Any]
    suites: dict[str, Any]
    criteria: tuple[CriterionSpec, ...]
    records: dict[str, Any]
    baseline_record: dict[str, Any]
    statistics: dict[str, Any]
    allow_changed_criteria: bool = False
    changed_criteria: tuple[str, ...] = ()
    warnings: tuple[str, ...] = field(default_factory=tuple)
    # Per suite, what its kind reports beyond the check rows (evalgate.report.sections), e.g.
    # a capability suite's base model against chance and the subjects that dropped most.
    sections: dict[str, Any] = field(default_factory=dict)
    # What was judged and how its provenance is known (evalgate.gate.candidate): kind
    # (trained / adapter / endpoint), the system it is served with, the endpoint, the lock.
    # Verdicts written before candidates had kinds read as trained.
    candidate: dict[str, Any] = field(default_factory=lambda: {"kind": "trained"})

    @property
    def promoted(self) -> bool:
        return self.decision == PROMOTE

    def counts(self) -> dict[str, int]:
        result = {"PASS": 0, "FAIL": 0, "INCONCLUSIVE": 0}
        for check in self.checks:
            result[check.status.value] = result.get(check.status.value, 0) + 1
        return result

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["checks"] = [check.to_json() for check in self.checks]
        data["criteria"] = [spec.to_json() for spec in self.criteria]
        for key in ("changed_criteria", "warnings"):
            data[key] = list(data[key])
        return {"format": VERDICT_FORMAT, **data}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Verdict:
        data = dict(data)
        version = data.pop("format", 1)
        data.pop("reasons", None)  # rendered words, not facts
        if version == 1:
            data = _upgrade_from_1(data)
        data["checks"] = tuple(CheckResult.from_json(c) for c in data["checks"])
        data["criteria"] = tuple(CriterionSpec.from_json(c) for c in data["criteria"])
        for key in ("changed_criteria", "warnings"):
            data[key] = tuple(data.get(key, ()))
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


def _upgrade_from_1(data: dict[str, Any]) -> dict[str, Any]:
    """Format 1 kept each check's sentence and no setting/detail: derive them from the
    criterion specs and the sentence, so an old verdict recomputes and promotes as before."""
    specs = {(c["suite"], c["name"]): c for c in data["criteria"]}
    checks = []
    for check in data["checks"]:
        check = dict(check)
        spec = specs.get((check["suite"], check["criterion"]), {})
        check["setting"] = {"min": spec.get("min"), "max": spec.get("max"),
                            "beat_baseline": spec.get("beat_margin"),
                            "max_drop": spec.get("max_drop")}.get(check["kind"])
        if "McNemar's exact test does not" in check.get("reason", ""):
            check["detail"] = "mcnemar"
        check["status"] = Status(check["status"]).value
        checks.append(check)
    return {**data, "checks": checks}
