"""Small formatting helpers shared by the Markdown, HTML and JUnit renderings of a verdict."""

from __future__ import annotations


def fmt(value: float | None, signed: bool = False) -> str:
    if value is None or value != value:
        return "n/a"
    return f"{value:+.3f}" if signed else f"{value:.3f}"


def fmt_p(p_value: float | None) -> str:
    """A p-value as people read one: never "0.0000" for a tiny but positive probability."""
    if p_value is None:
        return "—"
    return "< 0.0001" if p_value < 1e-4 else f"{p_value:.4f}"


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round tick values (steps of 1, 2 or 5 × 10^k) covering [lo, hi]."""
    import math

    raw = (hi - lo) / max(count, 1) or 1.0
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.ceil(lo / step) * step
    return [round(first + i * step, 10) for i in range(int((hi - first) / step + 1e-9) + 1)]


def fig_text(fig, signed: bool = False) -> str:
    if fig is None:
        return "—"
    return f"{fmt(fig.value, signed)} [{fmt(fig.low, signed)}, {fmt(fig.high, signed)}]"


def paired_figures(check):
    """(Δ, McNemar p) where they decide the check, else (None, None).

    Every check of a criterion carries the paired figures against the best baseline, but only
    a relative check (beat_baseline, max_drop) is decided on them; on a `min`/`max` row they
    would read as if they counted."""
    if not check.relative:
        return None, None
    return check.delta, check.p_value


def check_details(check) -> str:
    """One line with everything a failing check needs: value, bound, interval, baseline."""
    parts = [f"candidate {fig_text(check.candidate)}", f"bound {check.kind} {check.bound_text}"]
    if check.baseline is not None:
        parts.append(f"best baseline {check.baseline_system} {fig_text(check.baseline)}")
    delta, p_value = paired_figures(check)
    if delta is not None:
        parts.append(f"Δ {fig_text(delta, signed=True)}")
    if p_value is not None:
        parts.append(f"McNemar p {fmt_p(p_value)}")
    parts.append(f"n {check.n}")
    if check.more_examples is not None:
        parts.append(f"≈{check.more_examples:,} more examples would likely settle it")
    return " · ".join(parts)


def is_absolute_bound(check) -> bool:
    """A bound on the candidate's own value (drawn as a line on the chart)."""
    from evalgate.checks import CRITERION_CHECKS

    return check.kind in CRITERION_CHECKS and not check.relative


def blocking(verdict) -> list[str]:
    """The verdict's blocking reasons in words (evalgate.report.wording)."""
    from evalgate.checks import CHECKS
    from evalgate.report.wording import blocking_reasons

    proves = any(getattr(CHECKS.get(c.kind), "proves_better", False) for c in verdict.checks)
    return blocking_reasons(verdict.checks, has_beat_baseline=proves)


def criteria_rows(verdict) -> list:
    """The first check of each (suite, criterion): its figures stand for the criterion.
    Gate-wide checks (no candidate figures, e.g. criteria_fixed) have no row here."""
    seen, rows = set(), []
    for check in verdict.checks:
        if check.candidate is None:
            continue
        key = (check.suite, check.criterion)
        if key not in seen:
            seen.add(key)
            rows.append(check)
    return rows


def criterion_status(verdict, suite: str, criterion: str) -> str:
    statuses = {c.status for c in verdict.checks if (c.suite, c.criterion) == (suite, criterion)}
    from evalgate.checks import Status

    return (Status.FAIL if Status.FAIL in statuses else Status.INCONCLUSIVE
            if Status.INCONCLUSIVE in statuses else Status.PASS).value
