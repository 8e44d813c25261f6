"""`{field}` templates: the only placeholder syntax in suites and systems.

Only `{identifier}` is a placeholder, so prompts can hold literal JSON such as
`{"intent": "refund"}` without escaping. No expressions, no code: suites stay declarative.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


def placeholders(template: str) -> list[str]:
    """Names the template refers to, in order of first use."""
    seen: dict[str, None] = {}
    for match in _PLACEHOLDER.finditer(template):
        seen.setdefault(match.group(1), None)
    return list(seen)


def render(template: str, values: Mapping[str, Any]) -> str:
    """Substitute placeholders; a name missing from `values` raises KeyError naming it."""

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            raise KeyError(name)
        value = values[name]
        return value if isinstance(value, str) else str(value)

    return _PLACEHOLDER.sub(substitute, template)
