"""The gate: a candidate adapter's run records against the best baselines' → a verdict.

    candidate        the system an adapter is judged with (the one it was trained with)
    decide           criteria → registered checks (evalgate.checks) → Verdict
    verdict          Verdict (frozen, versioned JSON round-trip)
    run              orchestration shared by `evalgate gate` and the pytest plugin: gate-wide
                     checks, baselines if stale, the candidate on every suite, reports
    promote          what must hold before an adapter enters the registry
"""

from evalgate.gate.decide import build_verdict, criterion_specs, load_verdict, recompute
from evalgate.gate.verdict import INCONCLUSIVE, PROMOTE, REJECT, CheckResult, Verdict

__all__ = ["INCONCLUSIVE", "PROMOTE", "REJECT", "CheckResult", "Verdict", "build_verdict",
           "criterion_specs", "load_verdict", "recompute"]
