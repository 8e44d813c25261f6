"""Finding the JSON object in a model's output: the whole text, or the first `{...}` in it."""

from __future__ import annotations

import json
from typing import Any, Literal

Extract = Literal["whole", "first_object"]

_DECODER = json.JSONDecoder()


def extract_json(output: str, mode: Extract) -> tuple[bool, Any]:
    """Return (parsed, value). `whole` needs the stripped output to be JSON; `first_object`
    takes the first position where a JSON object decodes (models wrap JSON in prose/fences)."""
    if mode == "whole":
        try:
            return True, json.loads(output.strip())
        except json.JSONDecodeError:
            return False, None
    start = output.find("{")
    while start != -1:
        try:
            value, _ = _DECODER.raw_decode(output, start)
        except json.JSONDecodeError:
            start = output.find("{", start + 1)
            continue
        if isinstance(value, dict):
            return True, value
        start = output.find("{", start + 1)
    return False, None
