"""Relative bounds against the best baseline, on the paired difference Δ = candidate − best
baseline (examples paired by id; 95% Tango score interval for binary scores, paired bootstrap
for continuous ones, which need `MIN_CONTINUOUS_PAIRED_N` examples to decide at all):

    beat_baseline  Δ must surely exceed the margin; for binary scores McNemar's exact test
                   must also find the candidate better (p < 0.05) at every margin, so that a
                   larger margin never makes passing easier (PASS is monotone in the margin)
    max_drop       non-inferiority: the drop −Δ must surely stay under the setting

For a criterion where lower is better (only a `max`), both are mirrored: beating means a lower
value, a drop means a rise.
"""

from __future__ import annotations

from typing import ClassVar

from evalgate.checks.base import (
    CheckResult,
    CriterionEvidence,
    CriterionSpec,
    Status,
    decide_interval,
    register,
)
from evalgate.errors import ConfigError
from evalgate.stats import MIN_CONTINUOUS_PAIRED_N, examples_to_settle

ALPHA = 0.05


class _Relative:
    scope: ClassVar[str] = "criterion"
    paired: ClassVar[bool] = True
    proves_better: ClassVar[bool] = False  # passing it shows the candidate beats the baseline
    needs: ClassVar[frozenset[str]] = frozenset({"candidate", "baseline"})
    kind: ClassVar[str]

    def setting(self, spec: CriterionSpec) -> float | None:
        raise NotImplementedError

    def applies(self, spec: CriterionSpec) -> bool:
        return spec.evidence == "examples" and self.setting(spec) is not None

    def raw_bound(self, setting: float, higher: bool) -> float:
        """The bound on Δ itself (before mirroring for lower-is-better)."""
        raise NotImplementedError

    def decide(self, evidence: CriterionEvidence) -> CheckResult:
        spec, paired = evidence.spec, evidence.paired
        if paired is None:
            raise ConfigError(f"criterion {spec.suite}/{spec.name} has a relative bound but no "
                              "baseline was recorded for it", fix="run `evalgate baseline`")
        setting = float(self.setting(spec))
        higher = spec.higher_is_better
        bound = self.raw_bound(setting, higher)
        status = decide_interval(paired.low, paired.high, bound, above=higher, strict=True)
        detail = None
        if self._mcnemar_disagrees(spec, setting, status, paired.p_value):
            status, detail = Status.INCONCLUSIVE, "mcnemar"
        # Too few continuous pairs prove nothing (their bootstrap collapses onto identical
        # values); a FAIL stays: a narrow interval only makes the gate stricter.
        if not spec.binary and paired.n < MIN_CONTINUOUS_PAIRED_N and status is Status.PASS:
            status, detail = Status.INCONCLUSIVE, "too_few"
        more = None
        if status is Status.INCONCLUSIVE:
            total = examples_to_settle(len(evidence.ids), paired.sd, paired.delta - bound)
            more = total - len(evidence.ids) if total is not None else None
        if detail == "too_few":
            more = max(MIN_CONTINUOUS_PAIRED_N - paired.n, more or 0)
        return CheckResult(kind=self.kind, bound=bound,
                           bound_text=f"Δ {'>' if higher else '<'} {bound:+g}", status=status,
                           more_examples=more, setting=setting, detail=detail,
                           **evidence.common())

    def _mcnemar_disagrees(self, spec: CriterionSpec, setting: float, status: Status,
                           p_value: float | None) -> bool:
        return False


@register
class BeatBaseline(_Relative):
    """The candidate must surely beat the best baseline by more than the margin."""

    kind = "beat_baseline"
    proves_better = True

    def setting(self, spec: CriterionSpec) -> float | None:
        return spec.beat_margin

    def raw_bound(self, setting: float, higher: bool) -> float:
        return setting if higher else -setting

    def _mcnemar_disagrees(self, spec: CriterionSpec, setting: float, status: Status,
                           p_value: float | None) -> bool:
        return (spec.binary and status is Status.PASS and p_value is not None
                and p_value >= ALPHA)


@register
class MaxDrop(_Relative):
    """Non-inferiority: the candidate may lose at most `max_drop` against the best baseline."""

    kind = "max_drop"

    def setting(self, spec: CriterionSpec) -> float | None:
        # A criterion that can sit at chance is the capability_regression check's.
        return spec.max_drop if spec.chance is None else None

    def raw_bound(self, setting: float, higher: bool) -> float:
        return -setting if higher else setting
