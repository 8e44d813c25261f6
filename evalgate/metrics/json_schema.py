"""Output-format compliance: the output (or its first JSON object) validates against a schema."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from jsonschema.protocols import Validator

from evalgate.metrics.base import ExampleScore, ReferenceProblem
from evalgate.metrics.json_extract import Extract, extract_json


@dataclass(frozen=True)
class JsonSchemaCompliance:
    """Scores 1 when the output parses and validates; the summary separates the two failures."""

    validator: Validator = field(compare=False)
    extract: Extract = "first_object"
    binary: bool = True

    def score(self, example: Mapping[str, Any], output: str) -> ExampleScore:
        parsed, value = extract_json(output, self.extract)
        if not parsed:
            return ExampleScore(0.0, {"parsed": False, "valid": False})
        errors = sorted(self.validator.iter_errors(value), key=lambda e: list(e.path))
        if errors:
            first = errors[0]
            where = "/".join(str(part) for part in first.absolute_path) or "(root)"
            return ExampleScore(0.0, {"parsed": True, "valid": False,
                                      "error": f"{where}: {first.message}"[:300]})
        return ExampleScore(1.0, {"parsed": True, "valid": True})

    def reference_problem(self, example: Mapping[str, Any]) -> ReferenceProblem | None:
        return None  # the schema is the reference

    def summarize(self, scores: Sequence[ExampleScore]) -> dict[str, float]:
        if not scores:
            return {}
        return {
            "parse_rate": sum(bool(s.details.get("parsed")) for s in scores) / len(scores),
            "valid_rate": sum(bool(s.details.get("valid")) for s in scores) / len(scores),
        }
