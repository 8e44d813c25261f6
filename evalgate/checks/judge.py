"""judge_win_rate: is the candidate's answer preferred to the best baseline's?

Decided on the whole judge record (`RecordEvidence`): per prompt the candidate's score against
the bar baseline (1 win, ½ tie — including a verdict that flips with the order — 0 loss) and, in
`stats.judge`, the judge's validation on gold pairs. The win rate's 95% bootstrap interval
(prompts resampled) against `min`: PASS when it lies wholly above, FAIL wholly below, else
INCONCLUSIVE. A judge below its gold agreement threshold, or not validated at all, makes the
check INCONCLUSIVE ("judge not trusted"): its verdicts are no evidence either way.
"""

from __future__ import annotations

from typing import Any, ClassVar

from evalgate.checks.base import CheckResult, Figures, RecordEvidence, Status, decide_interval
from evalgate.checks.base import register
from evalgate.stats import estimate_mean


@register
class JudgeWinRate:
    kind: ClassVar[str] = "judge_win_rate"
    scope: ClassVar[str] = "criterion"
    paired: ClassVar[bool] = True  # decided on the comparison with the best baseline
    proves_better: ClassVar[bool] = True
    needs: ClassVar[frozenset[str]] = frozenset({"records"})

    def applies(self, spec: Any) -> bool:
        return spec.evidence == "records" and spec.metric == "judge_win_rate" \
            and spec.min is not None

    def decide(self, evidence: RecordEvidence) -> CheckResult:
        spec, record = evidence.spec, evidence.candidate
        bound = float(spec.min)
        summary = record.stats.get("judge") or {}
        validation = summary.get("validation") or {}
        common = dict(suite=spec.suite, criterion=spec.name, metric=spec.metric,
                      kind=self.kind, bound=bound, bound_text=f"win rate > {bound:g}",
                      baseline_system=evidence.baseline_system, setting=bound)
        if not validation.get("trusted"):
            reason = validation.get("reason") or "the judge was not validated"
            return CheckResult(status=Status.INCONCLUSIVE, n=0, candidate=None,
                               detail="untrusted", notes=(reason,), **common)
        scores = [e.scores[spec.name] for e in record.examples if spec.name in e.scores]
        estimate = estimate_mean(scores, binary=False)
        figure = Figures(estimate.value, estimate.low, estimate.high)
        against = Figures(1 - estimate.value, 1 - estimate.high, 1 - estimate.low)
        tallies = (summary.get("tallies") or {}).get(summary.get("against"), {})
        notes = (f"{tallies.get('wins', 0)} wins, {tallies.get('ties', 0)} ties, "
                 f"{tallies.get('losses', 0)} losses; position consistency "
                 f"{tallies.get('consistency', float('nan')):.0%}; judge agreement on gold "
                 f"{validation.get('agreement', float('nan')):.0%}",)
        status = decide_interval(estimate.low, estimate.high, bound, above=True, strict=True)
        return CheckResult(status=status, n=estimate.n, candidate=figure, baseline=against,
                           notes=notes, **common)
