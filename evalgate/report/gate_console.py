"""Rich rendering of a gate verdict: baseline vs fine-tune per criterion check, the paired
delta with its interval, the status, then the blocking reasons in plain words."""

from __future__ import annotations

from rich import box
from rich.console import Group
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from evalgate.report.common import (
    baseline_record_text,
    blocking,
    candidate_title,
    fmt_p,
    paired_figures,
)
from evalgate.report.console import STATUS_STYLE, status_text
from evalgate.report.sections import sections


def _fig(fig, signed: bool = False) -> Text:
    if fig is None:
        return Text("—", style="dim")
    fmt = "{:+.3f}" if signed else "{:.3f}"
    text = Text(fmt.format(fig.value) if fig.value == fig.value else "n/a")
    text.append(f"\n{fmt.format(fig.low)}…{fmt.format(fig.high)}", style="dim")
    return text


def render_verdict(verdict) -> Group:
    table = Table(title=f"gate: [bold]{escape(candidate_title(verdict))}[/] vs the best "
                        "baselines",
                  title_justify="left", header_style="bold", box=box.SIMPLE_HEAD,
                  show_lines=True, pad_edge=False)
    table.add_column("criterion · check", overflow="fold", min_width=18)
    table.add_column("best baseline", justify="right")
    table.add_column("fine-tune", justify="right", no_wrap=True)
    table.add_column("Δ (95% CI)", justify="right", no_wrap=True)
    table.add_column("status", justify="center", no_wrap=True)
    for check in verdict.checks:
        base = _fig(check.baseline)
        if check.baseline_system:
            base = Text(f"{check.baseline_system} ", style="dim") + base
        # Δ and p only where they decide the check (a dim dash on min/max rows).
        delta_fig, p_value = paired_figures(check)
        delta = _fig(delta_fig, signed=True)
        if p_value is not None:
            delta.append(f"\nMcNemar p {fmt_p(p_value)}", style="dim")
        status = status_text(check.status)
        if check.more_examples is not None:
            status.append(f"\n+{check.more_examples:,} ex.", style="dim")
        table.add_row(f"{check.suite}/{check.criterion}\n[dim]{check.kind} {check.bound_text} "
                      f"· n={check.n}[/]", base, _fig(check.candidate), delta, status)
    parts: list = [table]
    for name, data, renderer in sections(verdict):
        parts.append(renderer.console(name, data))
    if verdict.allow_changed_criteria:
        parts.append(Text.from_markup(
            "[bold yellow]--allow-changed-criteria[/]: suites or criteria changed since "
            "training: " + "; ".join(verdict.changed_criteria)))
    for warning in verdict.warnings:
        parts.append(Text.from_markup(f"[bold yellow]warning[/] {warning}"))
    reasons = blocking(verdict)
    if reasons:
        parts.append(Text("blocking:", style="bold"))
        for reason in reasons:
            parts.append(Text(f"  • {reason}"))
    counts = verdict.counts()
    summary = (f"{counts['PASS']} pass · {counts['FAIL']} fail · {counts['INCONCLUSIVE']} "
               f"inconclusive of {len(verdict.checks)} checks")
    style = STATUS_STYLE.get(verdict.decision, "bold")
    parts.append(Panel(Text.assemble((verdict.decision, style), f"   {summary}"),
                       expand=False, border_style=style.replace("bold ", "")))
    facts = [f"adapter sha256 {verdict.adapter['sha256'][:12]}"] if verdict.adapter else []
    if verdict.manifest:
        facts.append(f"manifest {verdict.manifest['sha256'][:12]}")
    provenance = verdict.candidate.get("provenance") or {}
    if provenance.get("kind") == "lock":
        facts.append(f"evalgate.lock {str(provenance.get('sha256'))[:12]} of "
                     f"{provenance.get('created_at')} (training time not verifiable)")
    facts.append(f"baseline record {baseline_record_text(verdict, 12)}")
    parts.append(Text(" · ".join(facts), style="dim"))
    return Group(*parts)
