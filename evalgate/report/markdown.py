"""A verdict as Markdown (for PR comments and CI summaries)."""

from __future__ import annotations

from evalgate.report.common import (
    baseline_record_text,
    blocking,
    candidate_title,
    fig_text,
    fmt_p,
    paired_figures,
    provenance_rows,
)
from evalgate.report.sections import sections


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(verdict) -> str:
    counts = verdict.counts()
    lines = [
        f"# evalgate verdict: **{verdict.decision}**", "",
        f"Candidate: **{_cell(candidate_title(verdict))}**, "
        f"against the best baseline per criterion — {counts['PASS']} pass, {counts['FAIL']} "
        f"fail, {counts['INCONCLUSIVE']} inconclusive of {len(verdict.checks)} checks.", ""]
    if verdict.allow_changed_criteria:
        lines += ["> **--allow-changed-criteria**: suites or criteria changed since training:",
                  *[f"> - {c}" for c in verdict.changed_criteria], ""]
    lines += ["| suite / criterion | check | best baseline | fine-tune | Δ paired (95% CI) | "
              "McNemar p | status |", "|---|---|---|---|---|---|---|"]
    for c in verdict.checks:
        base = f"{c.baseline_system} {fig_text(c.baseline)}" if c.baseline_system else "—"
        # Δ and p only on the rows they decide; empty on min/max rows.
        delta, p_value = paired_figures(c)
        delta_text = fig_text(delta, signed=True) if c.relative else ""
        p = fmt_p(p_value) if c.relative else ""
        status = f"**{c.status}**" + (f" (+{c.more_examples:,} ex.)"
                                      if c.more_examples is not None else "")
        lines.append(f"| {c.suite}/{c.criterion} (n={c.n}) | {_cell(c.kind + ' ' + c.bound_text)}"
                     f" | {base} | {fig_text(c.candidate)} | {delta_text} | {p} | {status} |")
    lines.append("")
    for name, data, renderer in sections(verdict):
        lines += renderer.markdown(name, data)
    reasons = blocking(verdict)
    if reasons:
        lines += ["## Blocking", "", *[f"- {_cell(r)}" for r in reasons], ""]
    if verdict.warnings:
        lines += ["## Warnings", "", *[f"- {_cell(w)}" for w in verdict.warnings], ""]
    stats = verdict.statistics
    lines += ["## Provenance", "",
              *[f"- {label}: {_cell(value)}" for label, value in provenance_rows(verdict)],
              f"- baseline record: {_cell(baseline_record_text(verdict, 16))}"]
    for name, suite in verdict.suites.items():
        record = verdict.records[name]["candidate"]
        lines.append(f"- suite `{name}` config `{suite['config_sha256'][:16]}` · candidate run "
                     f"`{record['path']}` (`{record['sha256'][:16]}`)")
    lines += [f"- statistics: {stats['relative']}; {stats['resamples']:,} resamples, seed "
              f"{stats['seed']}; {stats['binary_test']}", f"- created {verdict.created_at} by "
              f"evalgate {verdict.evalgate_version}", ""]
    return "\n".join(lines)
