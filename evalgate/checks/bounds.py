"""Absolute bounds: `min` and `max` on the candidate's own 95% interval (Wilson for binary
scores, bootstrap otherwise), exactly as a single `evalgate eval` run decides them."""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np

from evalgate.checks.base import (
    CheckResult,
    CriterionEvidence,
    CriterionSpec,
    Status,
    decide_interval,
    register,
)
from evalgate.stats import examples_to_settle


class _Bound:
    scope: ClassVar[str] = "criterion"
    paired: ClassVar[bool] = False
    needs: ClassVar[frozenset[str]] = frozenset({"candidate"})
    kind: ClassVar[str]
    above: ClassVar[bool]

    def bound(self, spec: CriterionSpec) -> float | None:
        return getattr(spec, self.kind)

    def applies(self, spec: CriterionSpec) -> bool:
        return spec.evidence == "examples" and self.bound(spec) is not None

    def decide(self, evidence: CriterionEvidence) -> CheckResult:
        spec, own = evidence.spec, evidence.own
        bound = float(self.bound(spec))
        status = decide_interval(own.low, own.high, bound, above=self.above)
        more = None
        if status is Status.INCONCLUSIVE:
            value = own.value if own.value == own.value else bound
            if spec.binary:
                sd = math.sqrt(max(value * (1 - value), bound * (1 - bound)))
            else:
                values = np.asarray(evidence.candidate, dtype=np.float64)
                sd = float(values.std(ddof=1)) if len(values) > 1 else 0.0
            total = examples_to_settle(len(evidence.ids), sd, value - bound)
            more = total - len(evidence.ids) if total is not None else None
        return CheckResult(kind=self.kind, bound=bound,
                           bound_text=f"{'≥' if self.above else '≤'} {bound:g}", status=status,
                           more_examples=more, setting=bound, **evidence.common())


@register
class MinBound(_Bound):
    """The candidate's value must surely be at least `min`."""

    kind = "min"
    above = True


@register
class MaxBound(_Bound):
    """The candidate's value must surely be at most `max` (lower is better)."""

    kind = "max"
    above = False
