"""Answer containment: one of the references occurs, as whole words, in the normalised output.

For short factual answers ("14 days", "destek@…") inside a sentence. Whole words matter: "4
hours" must not match "24 hours".
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from evalgate.metrics.base import ExampleScore
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

    def summarize(self, scores: Sequence[ExampleScore]) -> dict[str, float]:
        return {}
