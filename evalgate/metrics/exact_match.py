"""Exact match, plain or JSON-aware (listed keys of the output object equal the reference's)."""

from __future__ import annotations

import json
import re
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from evalgate.metrics.base import ExampleScore, ReferenceProblem, describe_value, is_text
from evalgate.metrics.json_extract import Extract, extract_json
from evalgate.util.text import fold_accents

Normalization = Literal["strip", "case", "whitespace", "punctuation", "accents"]

_SPACES = re.compile(r"\s+")
_PUNCT_TABLE = str.maketrans("", "", string.punctuation + "“”‘’«»…")


def normalize(value: str, options: Sequence[Normalization]) -> str:
    """Apply the chosen normalisations; the option set is part of the criterion (and its hash)."""
    if "case" in options:
        value = value.casefold()
    if "accents" in options:
        value = fold_accents(value)
    if "punctuation" in options:
        value = value.translate(_PUNCT_TABLE)
    if "whitespace" in options:
        value = _SPACES.sub(" ", value)
    if "strip" in options or "whitespace" in options:
        value = value.strip()
    return value


def reference_object(reference: Any) -> dict[str, Any] | None:
    """A JSON-mode reference as an object: an object as is, or a string holding one (the most
    common way such data is written: `"reference": "{\\"invoice_no\\": …}"`)."""
    if isinstance(reference, dict):
        return reference
    if isinstance(reference, str):
        try:
            value = json.loads(reference)
        except json.JSONDecodeError:
            return None
        return value if isinstance(value, dict) else None
    return None


@dataclass(frozen=True)
class ExactMatch:
    """Plain mode: output equals the reference (or any of a list of references).

    JSON mode (`json_keys` set): the first JSON object of the output must carry each listed key
    with the reference's value; the example scores 1 only when all keys match, and the summary
    reports each key's accuracy so a report can say which field fails.
    """

    reference_field: str
    options: tuple[Normalization, ...]
    json_keys: tuple[str, ...] = ()
    extract: Extract = "first_object"
    binary: bool = True

    def _same(self, produced: Any, expected: Any) -> bool:
        if isinstance(produced, str) and isinstance(expected, str):
            return normalize(produced, self.options) == normalize(expected, self.options)
        return produced == expected

    def score(self, example: Mapping[str, Any], output: str) -> ExampleScore:
        reference = example[self.reference_field]
        if not self.json_keys:
            references = reference if isinstance(reference, list) else [reference]
            hit = any(self._same(output, str(ref)) for ref in references)
            return ExampleScore(1.0 if hit else 0.0)
        expected = reference_object(reference) or {}
        parsed, value = extract_json(output, self.extract)
        if not parsed or not isinstance(value, dict):
            keys = {key: 0 for key in self.json_keys}
            return ExampleScore(0.0, {"parsed": False, "keys": keys})
        keys = {key: int(key in value and self._same(value[key], expected.get(key)))
                for key in self.json_keys}
        return ExampleScore(float(all(keys.values())), {"parsed": True, "keys": keys})

    def reference_problem(self, example: Mapping[str, Any]) -> ReferenceProblem | None:
        reference = example[self.reference_field]
        field = self.reference_field
        if self.json_keys:
            expected = reference_object(reference)
            if expected is None:
                return ReferenceProblem(
                    f"'{field}' must be a JSON object (or a string holding one) because the "
                    f"criterion compares json_keys, but it is {describe_value(reference)}",
                    f'write e.g. "{field}": {{"{self.json_keys[0]}": "…"}} or '
                    f'"{field}": "{{\\"{self.json_keys[0]}\\": \\"…\\"}}"')
            missing = [key for key in self.json_keys if key not in expected]
            if missing:
                return ReferenceProblem(
                    f"'{field}' has no key {', '.join(repr(k) for k in missing)} of json_keys",
                    "add the key to the reference, or remove it from the criterion's json_keys")
            return None
        references = reference if isinstance(reference, list) else [reference]
        if isinstance(reference, dict) or any(isinstance(r, dict) for r in references):
            return ReferenceProblem(
                f"'{field}' is a JSON object, but the criterion compares plain text",
                "add `json_keys: [...]` to the criterion to compare the object's fields")
        if not references or not all(is_text(r) for r in references):
            return ReferenceProblem(
                f"'{field}' must be a string, a number or a non-empty list of them, but it is "
                f"{describe_value(reference)}", f'write e.g. "{field}": "the expected answer"')
        return None

    def summarize(self, scores: Sequence[ExampleScore]) -> dict[str, float]:
        if not self.json_keys or not scores:
            return {}
        summary = {"parse_rate": sum(bool(s.details.get("parsed")) for s in scores) / len(scores)}
        if len(self.json_keys) > 1:
            for key in self.json_keys:
                summary[f"{key}_accuracy"] = (
                    sum(s.details.get("keys", {}).get(key, 0) for s in scores) / len(scores))
        return summary

