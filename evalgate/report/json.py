"""The verdict as `report.json`: the verdict's own facts (evalgate.gate.verdict, which reads
them back) plus, for people and CI scripts reading the file, each check's reason and the
blocking reasons in words. Reading ignores the words; they are rendered again from the facts."""

from __future__ import annotations

from typing import Any

from evalgate.report.common import blocking
from evalgate.report.wording import reason


def render_json(verdict) -> dict[str, Any]:
    data = verdict.to_json()
    for check, entry in zip(verdict.checks, data["checks"]):
        entry["reason"] = reason(check)
    data["reasons"] = blocking(verdict)
    return data
