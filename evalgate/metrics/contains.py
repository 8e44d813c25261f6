"""Answer containment: one of the references occurs, as whole words, in the normalised output.

For short factual answers ("14 days", "destek@…") inside a sentence. Whole words matter: "4
hours" must not match "24 hours".
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from evalgate.metrics.base import ExampleScore, ReferenceProblem, describe_value, is_text
from evalgate.metrics.exact_match import Normalization, normalize


@dataclass(frozen=True)
class Contains:
    reference_field: str
    options: tuple[Normalization, ...]
    binary: bool = True

    def score(self, example: Mapping[str, Any], output: str) -> ExampleScore:
        reference = example[self.reference_field]
        references = reference if isinstance(reference, list) else [reference]
        text = normalize(output, self.options)
        for candidate in references:
            needle = normalize(str(candidate), self.options)
            if needle and re.search(rf"(?<!\w){re.escape(needle)}(?!\w)", text):
                return ExampleScore(1.0, {"matched": str(candidate)})
        return ExampleScore(0.0)

    def reference_problem(self, example: Mapping[str, Any]) -> ReferenceProblem | None:
        reference = example[self.reference_field]
        references = reference if isinstance(reference, list) else [reference]
        if references and all(is_text(r) and normalize(str(r), self.options)
                              for r in references):
            return None
        return ReferenceProblem(
            f"'{self.reference_field}' must be a non-empty answer or a list of them, but it is "
            f"{describe_value(reference)}",
            f'write e.g. "{self.reference_field}": "14 days" or ["14 days", "two weeks"]')

    def summarize(self, scores: Sequence[ExampleScore]) -> dict[str, float]:
        return {}
