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


def candidate_title(verdict) -> str:
    """What was judged, in a few words: a trained adapter with its stage and run, an adapter
    evalgate did not train, or an endpoint's served model."""
    candidate, adapter = verdict.candidate, verdict.adapter
    kind = candidate.get("kind", "trained")
    if kind == "endpoint":
        endpoint = candidate["endpoint"]
        return f"endpoint {endpoint['model']} at {endpoint['base_url']}"
    if kind == "adapter":
        return f"external adapter {adapter['name']} (run {adapter['run_id']})"
    return f"adapter {adapter['name']} ({adapter['stage']}, run {adapter['run_id'][:12]})"


def provenance_rows(verdict) -> list[tuple[str, str]]:
    """(label, value) rows saying what the verdict rests on: the adapter or endpoint, the
    manifest or the lock (with the note that an external candidate's training time cannot be
    verified), and the base model."""
    candidate, adapter = verdict.candidate, verdict.adapter
    rows: list[tuple[str, str]] = []
    if adapter:
        rows.append(("adapter", f"{adapter['path']} · {adapter['sha256']}"))
    if candidate.get("endpoint"):
        endpoint = candidate["endpoint"]
        rows.append(("endpoint", f"{endpoint['model']} at {endpoint['base_url']} (by "
                                 "reference: evalgate cannot hash a served model)"))
    if verdict.manifest:
        rows.append(("manifest", f"{verdict.manifest['path']} · {verdict.manifest['sha256']}"))
    provenance = candidate.get("provenance") or {}
    if provenance.get("kind") == "lock":
        committed = provenance.get("committed")
        when = (f"; committed {committed['date']} in {committed['commit'][:12]}" if committed
                else "; not committed to git")
        rows.append(("lock", f"{provenance.get('path')} · {provenance.get('sha256')} · written "
                             f"{provenance.get('created_at')}{when}"))
        rows.append(("training time", provenance.get("note", "cannot be verified")))
    model = verdict.base_model
    rows.append(("base model", f"{model.get('ref') or model.get('served_model', '?')} · "
                               f"{model.get('identity', '')}"))
    return rows


def baseline_record_text(verdict, digits: int | None = None) -> str:
    """The baseline record a verdict rests on: its path and sha256 (cut to `digits`), or why
    there is none."""
    record = verdict.baseline_record
    if not record:
        return "none (no suite compares with the listed baselines)"
    return f"{record['path']} · sha256 {record['sha256'][:digits]}"
