"""The gate: a candidate adapter's run records against the best baselines' → a verdict.

    manifest_check   the adapter's training manifest; criteria fixed before training
    decide           criteria → checks (absolute and paired relative bounds) → Verdict
    verdict          Verdict and CheckResult (frozen, JSON round-trip, render themselves)
    run              `evalgate gate`: baselines if stale, the candidate on every suite, reports
"""

from evalgate.gate.decide import build_verdict, criterion_specs, load_verdict, recompute
from evalgate.gate.verdict import INCONCLUSIVE, PROMOTE, REJECT, CheckResult, Verdict

__all__ = ["INCONCLUSIVE", "PROMOTE", "REJECT", "CheckResult", "Verdict", "build_verdict",
           "criterion_specs", "load_verdict", "recompute"]
