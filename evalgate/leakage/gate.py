"""How the gate judges a candidate on a leakage suite: its training records against its
held-out records, under the candidate and (the validity control) the base model.

Registered as the `leakage` kind's `judge` (evalgate.suite.kinds): both run records are
written and every criterion is paired with the base model's run (the control)."""

from __future__ import annotations

from typing import Any

from evalgate.leakage.run import BASE_SYSTEM, run_leakage, section
from evalgate.leakage.suite import LeakageSuite
from evalgate.suite.kinds import KindJudgement


def judge_leakage(project: Any, suite: LeakageSuite, candidate: Any, pool: Any,
                  progress: Any = None) -> KindJudgement:
    runs = run_leakage(suite, candidate, pool, progress)
    best = {(suite.name, c.name): (BASE_SYSTEM, runs.base, runs.base_path)
            for c in suite.config.criteria}
    return KindJudgement(candidate=(runs.candidate, runs.candidate_path), best=best,
                         section=section(suite, runs))
