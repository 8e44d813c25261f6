"""`capability_regression`: non-inferiority against the base model, with a power condition.

The candidate's per-question accuracy is paired with the base model's on the same questions;
the upper bound of the drop's 95% interval must stay under `max_drop` (as `max_drop` decides
it against a baseline). But a drop can only show where there is something to lose: when the
base model is not clearly above chance (the lower end of its 95% Wilson interval at or below
the chance rate, computed from the items: the mean of one over each question's number of
choices), no drop is measurable and a PASS would be hollow. Then a PASS (or an undecided
row) is INCONCLUSIVE with detail `no_power`, which blocks promotion like any INCONCLUSIVE row; a FAIL stays a FAIL
(a drop the interval shows is a drop, whatever the power). Before training, the way out is a
benchmark the base model is clearly above chance on, or no `accuracy` criterion at all (the
continuous signals then guard alone).
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
        if low > float(spec.chance or 0.0) or result.status is Status.FAIL:
            return result  # a drop the interval shows is a drop, whatever the power
        return replace(result, status=Status.INCONCLUSIVE, detail="no_power",
                       more_examples=None, notes=(f"chance {spec.chance:g}",))
