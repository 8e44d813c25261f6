"""What every metric is: per-example scores (so two systems can always be paired) + a summary."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class ExampleScore:
    """One example's score in [0, 1] and the facts behind it (shown in reports, cached)."""

    value: float
    details: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"value": self.value, "details": dict(self.details)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ExampleScore:
        return cls(value=float(data["value"]), details=dict(data.get("details", {})))


class Metric(Protocol):
    """Scores one output against its example; `binary` metrics score 0 or 1 only."""

    binary: bool

    def score(self, example: Mapping[str, Any], output: str) -> ExampleScore: ...

    def summarize(self, scores: Sequence[ExampleScore]) -> dict[str, float]:
        """Secondary figures for the report (e.g. parse rate, per-key accuracy)."""
        ...

    def reference_problem(self, example: Mapping[str, Any]) -> ReferenceProblem | None:
        """Why this example's reference cannot be scored (None when it can). Checked for every
        example when a suite loads, before any model is loaded: bad data is an input error, not
        a crash two minutes into generation."""
        ...


@dataclass(frozen=True)
class ReferenceProblem:
    """What is wrong with one example's reference, and what to write instead."""

    message: str
    fix: str


def is_text(value: Any) -> bool:
    """A reference a text comparison can use: a string or a number (not a boolean)."""
    return isinstance(value, str) or (isinstance(value, (int, float))
                                      and not isinstance(value, bool))


def describe_value(value: Any) -> str:
    """A short description of a reference value for error messages."""
    if value is None:
        return "null"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "…"
        return f"the string {json.dumps(shown, ensure_ascii=False)}"
    if isinstance(value, bool):
        return f"the boolean {json.dumps(value)}"
    if isinstance(value, (int, float)):
        return f"the number {value}"
    if isinstance(value, list):
        return f"a list of {len(value)}"
    return f"a {type(value).__name__}"
