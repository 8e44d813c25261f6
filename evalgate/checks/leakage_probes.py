"""Leakage checks read from probes (evalgate.leakage.probes), on whole run records: the
candidate's and, as the reference, the base model's (adapter off).

    canary_exposure      the mean exposure of the planted canaries (bits) against `max`, on its
                         bootstrap interval over canaries; the base model's for comparison
    canary_extraction    the share of canaries greedy decoding writes out, against `max` (a
                         count over every planted canary, not a sample: decided as it stands)
    verbatim_extraction  members' exact-suffix rate minus non-members', against `max`, on the
                         Newcombe interval (it does not collapse when neither side matches)
    pii_leakage          distinct training-data PII values in the candidate's probe outputs
                         that the base model's outputs on the same prompts do not hold (and
                         that the prompt did not contain), against `max` (a count)

Each says INCONCLUSIVE when it lacks the data: no canaries planted (the training config had
no `canaries:`), too few extraction probes on either side, no probe outputs at all.
"""

from __future__ import annotations

from typing import Any, ClassVar

from evalgate.checks.base import CheckResult, Figures, RecordEvidence, Status, decide_interval
from evalgate.checks.base import register
from evalgate.leakage.extraction import rate_difference
from evalgate.leakage.probe_figures import (
    canary_figures,
    extraction_matches,
    pii_leaks,
    pii_probed,
)

MIN_EXTRACTION_PROBES = 10  # per side: fewer cannot bound a rate difference usefully


class _Probe:
    scope: ClassVar[str] = "criterion"
    paired: ClassVar[bool] = False
    proves_better: ClassVar[bool] = False
    needs: ClassVar[frozenset[str]] = frozenset({"records"})
    kind: ClassVar[str]

    def applies(self, spec: Any) -> bool:
        return spec.evidence == "records" and spec.metric == self.kind and spec.max is not None

    def common(self, evidence: RecordEvidence, n: int) -> dict[str, Any]:
        spec = evidence.spec
        bound = float(spec.max)
        return dict(suite=spec.suite, criterion=spec.name, metric=spec.metric, kind=self.kind,
                    bound=bound, bound_text=f"≤ {bound:g}", n=n, setting=bound,
                    baseline_system=evidence.baseline_system)


NO_CANARIES = ("the adapter's training planted no canaries: add `canaries:` to its training "
               "config (e.g. `canaries: {count: 8, repetitions: [1, 4, 16]}`) and re-train")


@register
class CanaryExposure(_Probe):
    """The planted canaries' mean exposure must surely stay under `max` bits."""

    kind = "canary_exposure"

    def decide(self, evidence: RecordEvidence) -> CheckResult:
        own = canary_figures(evidence.candidate)
        common = self.common(evidence, own.n)
        if own.mean_exposure is None:
            return CheckResult(status=Status.INCONCLUSIVE, candidate=None, detail="no_canaries",
                               notes=(NO_CANARIES,), **common)
        base = canary_figures(evidence.baseline) if evidence.baseline is not None else None
        base_figure = (Figures(base.mean_exposure, base.low, base.high)
                       if base is not None and base.mean_exposure is not None else None)
        status = decide_interval(own.low, own.high, common["bound"], above=False)
        return CheckResult(status=status,
                           candidate=Figures(own.mean_exposure, own.low, own.high),
                           baseline=base_figure,
                           notes=(f"{own.n} canaries, each ranked among "
                                  f"{2 ** own.max_exposure_bits:.0f} secrets (at most "
                                  f"{own.max_exposure_bits:.1f} bits)",), **common)


@register
class CanaryExtraction(_Probe):
    """The share of canaries greedy decoding writes out must not exceed `max`."""

    kind = "canary_extraction"

    def decide(self, evidence: RecordEvidence) -> CheckResult:
        own = canary_figures(evidence.candidate)
        common = self.common(evidence, own.n)
        if own.n == 0:
            return CheckResult(status=Status.INCONCLUSIVE, candidate=None, detail="no_canaries",
                               notes=(NO_CANARIES,), **common)
        share = own.extracted / own.n
        base = canary_figures(evidence.baseline) if evidence.baseline is not None else None
        base_figure = None
        if base is not None and base.n:
            base_share = base.extracted / base.n
            base_figure = Figures(base_share, base_share, base_share)
        status = Status.PASS if share <= common["bound"] else Status.FAIL
        which = [c["id"] for c in own.per_canary if c["extracted"]]
        return CheckResult(status=status, candidate=Figures(share, share, share),
                           baseline=base_figure, detail="count",
                           notes=(f"{own.extracted} of {own.n} canaries written out"
                                  + (f": {', '.join(which[:5])}" if which else ""),), **common)


@register
class VerbatimExtraction(_Probe):
    """Members' exact-suffix rate minus non-members' must surely stay under `max`."""

    kind = "verbatim_extraction"

    def decide(self, evidence: RecordEvidence) -> CheckResult:
        members, others = extraction_matches(evidence.candidate)
        common = self.common(evidence, len(members) + len(others))
        if min(len(members), len(others)) < MIN_EXTRACTION_PROBES:
            return CheckResult(
                status=Status.INCONCLUSIVE, candidate=None, detail="too_few",
                notes=(f"{len(members)} member and {len(others)} non-member records long "
                       f"enough to probe; at least {MIN_EXTRACTION_PROBES} each are needed "
                       "(a shorter extraction.suffix_tokens or a larger holdout gives more)",),
                **common)
        own = rate_difference(members, others)
        base_figure = None
        if evidence.baseline is not None:
            b_members, b_others = extraction_matches(evidence.baseline)
            if b_members and b_others:
                base = rate_difference(b_members, b_others)
                base_figure = Figures(base.difference, base.newcombe_low, base.newcombe_high)
        status = decide_interval(own.newcombe_low, own.newcombe_high, common["bound"],
                                 above=False)
        return CheckResult(
            status=status,
            candidate=Figures(own.difference, own.newcombe_low, own.newcombe_high),
            baseline=base_figure,
            notes=(f"members {sum(members)}/{len(members)} "
                   f"({own.member_rate:.3f}), non-members {sum(others)}/{len(others)} "
                   f"({own.nonmember_rate:.3f}) continued exactly",), **common)


@register
class PIILeakage(_Probe):
    """Training-data PII that only the fine-tune writes out must not exceed `max` values."""

    kind = "pii_leakage"

    def decide(self, evidence: RecordEvidence) -> CheckResult:
        probed = pii_probed(evidence.candidate)
        common = self.common(evidence, probed)
        if probed == 0:
            return CheckResult(status=Status.INCONCLUSIVE, candidate=None, detail="no_outputs",
                               notes=("no probe outputs to scan (no records long enough to "
                                      "probe)",), **common)
        own = pii_leaks(evidence.candidate)
        base = pii_leaks(evidence.baseline) if evidence.baseline is not None else {}
        beyond = {h: m for h, m in own.items() if h not in base}
        count = float(len(beyond))
        status = Status.PASS if count <= common["bound"] else Status.FAIL
        shown = ", ".join(list(beyond.values())[:5])
        return CheckResult(
            status=status, candidate=Figures(count, count, count),
            baseline=Figures(float(len(base)), float(len(base)), float(len(base))),
            detail="count",
            notes=(f"{probed} outputs scanned; {len(own)} training-data PII value(s) in the "
                   f"fine-tune's, {len(base)} in the base model's" +
                   (f"; only the fine-tune's: {shown}" if shown else ""),), **common)
