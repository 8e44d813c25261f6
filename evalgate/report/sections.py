"""Report sections by suite kind: what a kind shows beyond its check rows.

A verdict's `sections` maps a suite name to the data its kind recorded (with a `kind` key);
each renderer here turns one into terminal, Markdown or HTML output. A new kind with a section
is one renderer module plus one entry in `SECTIONS`; an unknown kind (a verdict from a newer
evalgate) is skipped, never an error.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from evalgate.report import capability, judge, leakage


@dataclass(frozen=True)
class SectionRenderer:
    console: Callable[[str, dict[str, Any]], Any]
    markdown: Callable[[str, dict[str, Any]], list[str]]
    html: Callable[[str, dict[str, Any]], str]


SECTIONS: dict[str, SectionRenderer] = {
    "capability": SectionRenderer(capability.render_console, capability.render_markdown,
                                  capability.render_html),
    "leakage": SectionRenderer(leakage.render_console, leakage.render_markdown,
                               leakage.render_html),
    "judge": SectionRenderer(judge.render_console, judge.render_markdown, judge.render_html),
}


def sections(verdict: Any) -> list[tuple[str, dict[str, Any], SectionRenderer]]:
    """(suite name, section data, its renderer) for every section a renderer knows."""
    found = []
    for name, data in (getattr(verdict, "sections", None) or {}).items():
        renderer = SECTIONS.get(data.get("kind", ""))
        if renderer is not None:
            found.append((name, data, renderer))
    return found
