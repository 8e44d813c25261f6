"""A verdict as one self-contained HTML file: inline CSS and inline SVG, no external assets
(it must open from a CI artifact, offline, years later).

Two charts: per criterion the best baseline and the fine-tune as bars with their 95% intervals
and the absolute bounds marked; per relative check the paired Δ with its interval against the
bound it must clear (a forest plot).
"""

from __future__ import annotations

from html import escape

from evalgate.report.common import (
    baseline_record_text,
    blocking,
    candidate_title,
    criteria_rows,
    criterion_status,
    fig_text,
    fmt_p,
    is_absolute_bound,
    nice_ticks,
    paired_figures,
    provenance_rows,
)
from evalgate.report.sections import sections
from evalgate.report.wording import reason

COLOURS = {"PASS": "#1a7f37", "FAIL": "#cf222e", "INCONCLUSIVE": "#bf8700",
           "PROMOTE": "#1a7f37", "REJECT": "#cf222e"}
BASELINE = "#8c959f"

CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1f2328;
     margin:0;background:#f6f8fa}
main{max-width:1100px;margin:0 auto;padding:24px}
h1{font-size:22px;margin:0 0 4px} h2{font-size:17px;margin:28px 0 8px}
.card{background:#fff;border:1px solid #d0d7de;border-radius:8px;padding:16px 20px;margin:14px 0}
.badge{display:inline-block;padding:4px 12px;border-radius:6px;color:#fff;font-weight:700;
       letter-spacing:.04em}
.muted{color:#656d76} .mono{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:12px}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{border-bottom:1px solid #d8dee4;padding:6px 8px;text-align:left;vertical-align:top}
th{background:#f6f8fa} td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.st{font-weight:700;white-space:nowrap} ul{margin:6px 0;padding-left:20px} li{margin:3px 0}
.warn{background:#fff8c5;border-color:#d4a72c}
svg text{font:12px system-ui,sans-serif}
tr.why td{border-bottom:1px solid #d8dee4;padding-top:0;color:#57606a}
tr.main td{border-bottom:none}
"""


def _status(status: str, extra: str = "") -> str:
    return (f'<span class="st" style="color:{COLOURS.get(status, "#1f2328")}">'
            f"{escape(status)}</span>{extra}")


def _scale(lo: float, hi: float, x0: float, width: float):
    span = (hi - lo) or 1.0
    return lambda v: x0 + (v - lo) / span * width


def _grid(x, lo: float, hi: float, top: float, bottom: float, label: str) -> list[str]:
    """Vertical gridlines at round values between lo and hi, labelled below the plot."""
    out = []
    for t in nice_ticks(lo, hi):
        out.append(f'<line x1="{x(t):.1f}" y1="{top}" x2="{x(t):.1f}" y2="{bottom - 24}" '
                   f'stroke="#eaeef2"/><text x="{x(t):.1f}" y="{bottom - 8}" '
                   f'text-anchor="middle" fill="#656d76">{format(t, label)}</text>')
    return out


def _bars_chart(verdict) -> str:
    rows = criteria_rows(verdict)
    if not rows:
        return ""
    values = [0.0, 1.0]
    for r in rows:
        for fig in (r.candidate, r.baseline):
            if fig is not None:
                values += [v for v in (fig.low, fig.high) if v == v]
    bounds = {}
    for c in verdict.checks:
        if is_absolute_bound(c):
            bounds.setdefault((c.suite, c.criterion), []).append((c.kind, c.bound))
            values.append(c.bound)
    lo, hi = min(values), max(values)
    label_w, plot_w, row_h, top = 230, 560, 62, 30
    x = _scale(lo, hi, label_w, plot_w)
    height = top + row_h * len(rows) + 30
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{label_w + plot_w + 170}" '
           f'height="{height}" role="img" aria-label="baseline vs fine-tune per criterion">']
    out += _grid(x, lo, hi, top - 6, height, ".2f")
    out.append(f'<rect x="{label_w}" y="6" width="12" height="10" fill="{BASELINE}"/>'
               f'<text x="{label_w + 17}" y="15">best baseline</text>'
               f'<rect x="{label_w + 120}" y="6" width="12" height="10" fill="#0969da"/>'
               f'<text x="{label_w + 137}" y="15">fine-tune</text>'
               f'<line x1="{label_w + 220}" y1="4" x2="{label_w + 220}" y2="18" stroke="#cf222e" '
               f'stroke-dasharray="3,2" stroke-width="2"/><text x="{label_w + 227}" y="15">'
               'absolute bound</text><text x="{0}" y="15" fill="#656d76">bars: value · '
               'whiskers: 95% CI</text>'.replace("{0}", str(label_w + 340)))
    for i, r in enumerate(rows):
        y0 = top + i * row_h
        status = criterion_status(verdict, r.suite, r.criterion)
        out.append(f'<text x="8" y="{y0 + 22}" font-weight="600">{escape(r.suite)}/'
                   f'{escape(r.criterion)}</text>')
        out.append(f'<text x="8" y="{y0 + 40}" fill="{COLOURS[status]}" font-weight="700">'
                   f'{status}</text>')
        for j, (fig, colour, name) in enumerate(((r.baseline, BASELINE,
                                                   r.baseline_system or "baseline"),
                                                  (r.candidate, "#0969da", "fine-tune"))):
            if fig is None or fig.value != fig.value:
                continue
            yb = y0 + 8 + j * 22
            out.append(f'<rect x="{x(lo):.1f}" y="{yb}" width="{max(x(fig.value) - x(lo), 1):.1f}"'
                       f' height="16" fill="{colour}" opacity="0.85"><title>{escape(name)}: '
                       f'{fig_text(fig)}</title></rect>')
            yc = yb + 8
            out.append(f'<line x1="{x(fig.low):.1f}" y1="{yc}" x2="{x(fig.high):.1f}" y2="{yc}" '
                       'stroke="#1f2328" stroke-width="1.6"/>')
            for v in (fig.low, fig.high):
                out.append(f'<line x1="{x(v):.1f}" y1="{yc - 5}" x2="{x(v):.1f}" y2="{yc + 5}" '
                           'stroke="#1f2328" stroke-width="1.6"/>')
            out.append(f'<text x="{label_w + plot_w + 10}" y="{yb + 12}" fill="#656d76">'
                       f'{escape(name[:14])} {fig.value:.3f}</text>')
        for kind, bound in bounds.get((r.suite, r.criterion), []):
            out.append(f'<line x1="{x(bound):.1f}" y1="{y0 + 3}" x2="{x(bound):.1f}" '
                       f'y2="{y0 + 50}" stroke="#cf222e" stroke-width="2" '
                       f'stroke-dasharray="3,2"><title>{kind} {bound:g}</title></line>')
    out.append("</svg>")
    return "".join(out)


def _delta_chart(verdict) -> str:
    checks = [c for c in verdict.checks if c.relative and c.delta is not None]
    if not checks:
        return ""
    values = [0.0]
    for c in checks:
        values += [c.delta.low, c.delta.high, c.bound]
    lo, hi = min(values), max(values)
    pad = max((hi - lo) * 0.08, 0.02)
    lo, hi = lo - pad, hi + pad
    label_w, plot_w, row_h, top = 300, 520, 34, 10
    x = _scale(lo, hi, label_w, plot_w)
    height = top + row_h * len(checks) + 30
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{label_w + plot_w + 150}" '
           f'height="{height}" role="img" aria-label="paired differences">']
    out += _grid(x, lo, hi, top, height, "+.2f")
    out.append(f'<line x1="{x(0):.1f}" y1="{top}" x2="{x(0):.1f}" y2="{height - 24}" '
               'stroke="#8c959f" stroke-width="1.5"/>')
    for i, c in enumerate(checks):
        yc = top + i * row_h + row_h / 2
        colour = COLOURS[c.status]
        out.append(f'<text x="8" y="{yc + 4:.1f}">{escape(c.suite)}/{escape(c.criterion)} '
                   f'<tspan fill="#656d76">{escape(c.kind)} {escape(c.bound_text)}</tspan></text>')
        out.append(f'<line x1="{x(c.bound):.1f}" y1="{yc - 12:.1f}" x2="{x(c.bound):.1f}" '
                   f'y2="{yc + 12:.1f}" stroke="#cf222e" stroke-width="2" stroke-dasharray="3,2"/>')
        out.append(f'<line x1="{x(c.delta.low):.1f}" y1="{yc:.1f}" x2="{x(c.delta.high):.1f}" '
                   f'y2="{yc:.1f}" stroke="{colour}" stroke-width="3"/>')
        out.append(f'<circle cx="{x(c.delta.value):.1f}" cy="{yc:.1f}" r="5" fill="{colour}">'
                   f'<title>Δ {fig_text(c.delta, signed=True)}</title></circle>')
        out.append(f'<text x="{label_w + plot_w + 10}" y="{yc + 4:.1f}" fill="{colour}" '
                   f'font-weight="700">{c.status}</text>')
    out.append("</svg>")
    return "".join(out)


def render_html(verdict) -> str:
    title = candidate_title(verdict)
    counts = verdict.counts()
    colour = COLOURS.get(verdict.decision, "#57606a")
    rows = []
    for c in verdict.checks:
        base = (f'{escape(c.baseline_system)}<br><span class="muted">{fig_text(c.baseline)}'
                "</span>") if c.baseline_system else "—"
        # Δ and p only on the rows they decide; empty on min/max rows.
        delta, p_value = paired_figures(c)
        delta_text = fig_text(delta, signed=True) if c.relative else ""
        p = fmt_p(p_value) if c.relative else ""
        more = (f'<br><span class="muted">+{c.more_examples:,} examples</span>'
                if c.more_examples is not None else "")
        rows.append(
            f'<tr class="main"><td><b>{escape(c.suite)}/{escape(c.criterion)}</b><br>'
            f'<span class="muted">{escape(c.metric)} · n = {c.n}</span></td>'
            f"<td>{escape(c.kind)}<br>{escape(c.bound_text)}</td><td class=num>{base}</td>"
            f"<td class=num>{fig_text(c.candidate)}</td>"
            f"<td class=num>{delta_text}</td><td class=num>{p}</td>"
            f"<td>{_status(c.status, more)}</td></tr>"
            f'<tr class="why"><td></td><td colspan="6">{escape(reason(c))}</td></tr>')
    changed = ""
    if verdict.allow_changed_criteria:
        changed = ('<div class="card warn"><b>--allow-changed-criteria</b>: suites or criteria '
                   "changed since training:<ul>" + "".join(
                       f"<li>{escape(c)}</li>" for c in verdict.changed_criteria) + "</ul></div>")
    reasons = ""
    if blocking(verdict):
        reasons = ('<div class="card"><h2 style="margin-top:0">Blocking</h2><ul>' + "".join(
            f"<li>{escape(r)}</li>" for r in blocking(verdict)) + "</ul></div>")
    warnings = "".join(f'<div class="card warn">{escape(w)}</div>' for w in verdict.warnings)
    provenance = [*provenance_rows(verdict),
                  ("baseline record", baseline_record_text(verdict))]
    for name, suite in verdict.suites.items():
        record = verdict.records[name]["candidate"]
        provenance.append((f"suite {name}", f"config {suite['config_sha256']} · candidate run "
                                            f"{record['path']} · {record['sha256']}"))
    stats = verdict.statistics
    provenance.append(("statistics", f"{stats['relative']}; {stats['resamples']:,} resamples, "
                                     f"seed {stats['seed']}; {stats['binary_test']}"))
    prov = "".join(f'<tr><th>{escape(k)}</th><td class="mono">{escape(v)}</td></tr>'
                   for k, v in provenance)
    delta_chart = _delta_chart(verdict)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>evalgate verdict: {escape(verdict.decision)} — {escape(title)}</title>
<style>{CSS}</style></head>
<body><main>
<h1>evalgate verdict <span class="badge" style="background:{colour}">{escape(verdict.decision)}</span></h1>
<div class="muted"><b>{escape(title)}</b> against the best baseline per criterion ·
{counts['PASS']} pass · {counts['FAIL']} fail · {counts['INCONCLUSIVE']} inconclusive of
{len(verdict.checks)} checks · {escape(verdict.created_at)}</div>
{changed}{reasons}{warnings}
<div class="card"><h2 style="margin-top:0">Baseline vs fine-tune per criterion</h2>
{_bars_chart(verdict)}</div>
{'<div class="card"><h2 style="margin-top:0">Paired difference Δ = fine-tune − best baseline '
 '(95% CI) against each relative bound</h2>' + delta_chart + '</div>' if delta_chart else ''}
<div class="card"><h2 style="margin-top:0">Checks</h2><table>
<tr><th>suite / criterion</th><th>check</th><th>best baseline</th><th>fine-tune</th>
<th>Δ paired</th><th>McNemar p</th><th>status</th></tr>
{''.join(rows)}</table></div>
{''.join(renderer.html(name, data) for name, data, renderer in sections(verdict))}
<div class="card"><h2 style="margin-top:0">Provenance</h2><table>{prov}</table></div>
</main></body></html>
"""
