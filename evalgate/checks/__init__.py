"""Checks: each decision the gate makes, registered by name (see `base.py`).

Importing this package registers every built-in check, in the order their rows appear:
absolute bounds (`bounds.py`), relative bounds against the best baseline (`relative.py`),
non-inferiority against the base model with a power condition (`capability.py`), membership
inference and the leakage probes (`leakage.py`, `leakage_probes.py`), the judge's win rate
(`judge.py`), and the provenance of the criteria (`provenance.py`). A new check is a new module imported here.
"""

from evalgate.checks import (  # noqa: F401 - registration
    bounds,
    capability,
    judge,
    leakage,
    leakage_probes,
    provenance,
    relative,
)
from evalgate.checks.base import (
    CHECKS,
    CRITERION_CHECKS,
    GATE_CHECKS,
    CheckResult,
    CriterionEvidence,
    CriterionSpec,
    Figures,
    GateEvidence,
    RecordEvidence,
    Status,
    decide_interval,
    register,
)

__all__ = ["CHECKS", "CRITERION_CHECKS", "GATE_CHECKS", "CheckResult", "CriterionEvidence",
           "CriterionSpec", "Figures", "GateEvidence", "RecordEvidence", "Status", "decide_interval", "register"]
