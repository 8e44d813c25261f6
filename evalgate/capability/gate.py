"""How the gate judges a candidate on a capability suite: against its own base model.

Registered as the `capability` kind's `judge` (evalgate.suite.kinds): the base model and the
candidate are measured (cached per question), both run records written, and every relative
criterion paired with the base model's run; the report section carries the base model against
chance and the subjects that dropped most.
"""

from __future__ import annotations

from typing import Any

from evalgate.capability.run import BASE_SYSTEM, run_capability, section
from evalgate.capability.suite import CapabilitySuite
from evalgate.suite.kinds import KindJudgement


def judge_capability(project: Any, suite: CapabilitySuite, candidate: Any, pool: Any,
                     progress: Any = None) -> KindJudgement:
    runs = run_capability(suite, candidate, pool, progress)
    best = {(suite.name, c.name): (BASE_SYSTEM, runs.base, runs.base_path)
            for c in suite.config.criteria if c.has_relative}
    return KindJudgement(candidate=(runs.candidate, runs.candidate_path), best=best,
                         section=section(suite, runs))
