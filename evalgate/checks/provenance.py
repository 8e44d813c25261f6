"""Criteria fixed before training: the suites and criteria the candidate is judged by must be
the ones that existed when it was trained (their hashes are in the training manifest).

A change is refused before anything is evaluated (exit 2: judging an adapter by criteria
written after seeing it defeats the point of writing them first), unless the user passes
`--allow-changed-criteria`; then the check records every change and says it was waived, and
the verdict and the registry's audit log carry the flag."""

from __future__ import annotations

from typing import Any, ClassVar

from evalgate.checks.base import CheckResult, GateEvidence, Status, register
from evalgate.errors import ConfigError


@register
class CriteriaFixed:
    kind: ClassVar[str] = "criteria_fixed"
    scope: ClassVar[str] = "gate"
    paired: ClassVar[bool] = False
    needs: ClassVar[frozenset[str]] = frozenset({"manifest"})

    def decide(self, evidence: GateEvidence) -> CheckResult | None:
        # The training manifest when evalgate trained the candidate; else evalgate.lock.
        source = evidence.manifest if evidence.manifest is not None else evidence.lock
        if source is None:
            return None  # a candidate without a training manifest (a system YAML in pytest)
        by_lock = evidence.manifest is None
        since = "the lock was written" if by_lock else "the adapter was trained"
        changes = changed_criteria(source, list(evidence.suites),
                                   judged_all=not evidence.partial)
        if changes and not evidence.allow_changed_criteria:
            restore = ("restore the suites as they were when evalgate.lock was written (git "
                       "shows the change)" if by_lock else
                       "restore the suites as they were at training time, re-train")
            raise ConfigError(
                f"suites or criteria changed since {since}:\n  - " + "\n  - ".join(changes),
                path=source.path, key="suites",
                fix=f"{restore}, or pass --allow-changed-criteria (it is written into the "
                    "verdict and the report)")
        return CheckResult(suite="(all suites)",
                           criterion=("criteria fixed by evalgate.lock" if by_lock else
                                      "criteria fixed before training"),
                           metric="provenance", kind=self.kind, bound=0.0,
                           bound_text=f"suites and criteria unchanged since {since}",
                           status=Status.PASS, n=len(evidence.suites), candidate=None,
                           detail="waived" if changes else ("lock" if by_lock else None),
                           notes=tuple(changes))


def changed_criteria(manifest: Any, suites: list[Any], judged_all: bool = True) -> list[str]:
    """What differs between the suites now and the suites at training time, in plain words."""
    changes = []
    pinned = manifest.suites
    for suite in suites:
        then = pinned.get(suite.name)
        if then is None:
            changes.append(f"suite '{suite.name}' was added after training")
            continue
        if then.get("data_sha256") not in (None, suite.dataset.sha256):
            changes.append(f"suite '{suite.name}': its data changed")
        before, now = dict(then.get("criteria") or {}), dict(suite.fingerprints)
        for name in sorted(set(before) | set(now)):
            if name not in before:
                changes.append(f"suite '{suite.name}': criterion '{name}' was added")
            elif name not in now:
                changes.append(f"suite '{suite.name}': criterion '{name}' was removed")
            elif before[name] != now[name]:
                changes.append(f"suite '{suite.name}': criterion '{name}' changed (metric, "
                               "reference or options)")
        if then.get("config_sha256") != suite.config_sha256 and not any(
                c.startswith(f"suite '{suite.name}'") for c in changes):
            changes.append(f"suite '{suite.name}': its configuration changed (a bound, the "
                           "input template or generation settings)")
    names = {suite.name for suite in suites}
    if judged_all:
        changes.extend(f"suite '{name}' was removed since training" for name in sorted(pinned)
                       if name not in names)
    return changes
