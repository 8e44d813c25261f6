"""`capability_regression`: non-inferiority against the base model, with a power condition.

The candidate's per-question accuracy is paired with the base model's on the same questions;
the upper bound of the drop's 95% interval must stay under `max_drop` (as `max_drop` decides
it against a baseline). But a drop can only show where there is something to lose: when the
base model is not clearly above chance (the lower end of its 95% Wilson interval at or below
the chance rate), no drop is measurable and a PASS would be hollow. Then the check is
INCONCLUSIVE with detail `no_power` — the continuous signals of the suite (gold log-prob,
agreement, answer KL, perplexity) carry the decision instead.
"""

from __future__ import annotations

from dataclasses import replace

from evalgate.checks.base import CheckResult, CriterionEvidence, CriterionSpec, Status, register
from evalgate.checks.relative import MaxDrop
from evalgate.stats import wilson_interval


@register
class CapabilityRegression(MaxDrop):
    """The candidate may lose at most `max_drop` against its base model, and the base model
    must be clearly above chance for that to mean anything."""

    kind = "capability_regression"

    def setting(self, spec: CriterionSpec) -> float | None:
        return spec.max_drop if spec.chance is not None else None

    def decide(self, evidence: CriterionEvidence) -> CheckResult:
        result = super().decide(evidence)
        spec = evidence.spec
        base = evidence.baseline or []
        right = int(round(sum(base)))
        low, _ = wilson_interval(right, len(base)) if base else (0.0, 0.0)
        if low > float(spec.chance or 0.0):
            return result
        return replace(result, status=Status.INCONCLUSIVE, detail="no_power",
                       more_examples=None, notes=(f"chance {spec.chance:g}",))
