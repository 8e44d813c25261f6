"""What every metric is: per-example scores (so two systems can always be paired) + a summary."""

from __future__ import annotations

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
