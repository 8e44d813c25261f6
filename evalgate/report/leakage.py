"""The leakage section of a gate report: did the fine-tune memorise its training records?

Rendered from the verdict's `sections[suite]` (evalgate.leakage.run.section): how many members
and non-members were scored (and whether a low-FPR figure is possible with them), every
attack's AUC and TPR at 1% FPR on the candidate with intervals, and the same AUC with the
adapter off (the validity control); then the probes: canary exposure and extraction by
repetitions, verbatim extraction of members against non-members, and training-data PII in the
outputs, each beside the base model's."""

from __future__ import annotations

from html import escape
from typing import Any

from rich import box
from rich.console import Group
from rich.table import Table
from rich.text import Text


def _num(x: Any) -> str:
    return "—" if x is None or x != x else f"{x:.3f}"


def _ci(value: Any, low: Any, high: Any) -> str:
    return "—" if value is None else f"{_num(value)} [{_num(low)}, {_num(high)}]"


def headline(data: dict[str, Any]) -> str:
    low, high = data["control_band"]
    return (f"members: {data['members']} of the {data['members_total']} training records "
            f"(seeded sample) · non-members: {data['non_members']} held-out records of the "
            f"same pool ({data['dropped_near_duplicates']} near-duplicates of members dropped) "
            f"· training run {data['training_run']} · base-model control band "
            f"[{low:g}, {high:g}]")


def rows(data: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    return [(a["attack"], _ci(a["auc"], a["low"], a["high"]),
             _ci(a["tpr_at_1"], a["tpr_low"], a["tpr_high"]),
             _ci(a["base_auc"], a["base_low"], a["base_high"])) for a in data["attacks"]]


def notes(data: dict[str, Any]) -> list[str]:
    found = [data["low_fpr_note"]] if data.get("low_fpr_note") else []
    cost = data["cost"]
    base, cand = cost["base"], cost["candidate"]
    found.append(f"cost: base {base['scored']} records scored in {base['seconds']:.1f} s and "
                 f"{base.get('probes', 0)} probes in {base.get('probe_seconds', 0.0):.1f} s, "
                 f"candidate {cand['scored']} in {cand['seconds']:.1f} s and "
                 f"{cand.get('probes', 0)} probes in {cand.get('probe_seconds', 0.0):.1f} s "
                 "(cached scores and generations are not recomputed)")
    return found


def _bits(x: Any) -> str:
    return "—" if x is None else f"{x:.2f}"


def probe_lines(data: dict[str, Any]) -> list[str]:
    """Canaries, verbatim extraction and PII, one line each (what the probe checks read)."""
    lines = []
    canaries = data.get("canaries")
    if canaries:
        lines.append(
            f"canaries: {canaries['n']} planted; mean exposure fine-tune "
            f"{_bits(canaries['mean'])} bits [{_bits(canaries['low'])}, "
            f"{_bits(canaries['high'])}] vs base model {_bits(canaries['base_mean'])} (at most "
            f"{_bits(canaries['max_bits'])}; ≈1.44 is chance); written out by greedy decoding: "
            f"fine-tune {canaries['extracted']}, base model {canaries['base_extracted']}")
        per = ", ".join(f"{c['id']} ×{c['repetitions']}: {_bits(c['exposure'])}"
                        f"{' EXTRACTED' if c['extracted'] else ''}"
                        for c in canaries["per_canary"])
        lines.append(f"canary exposure by repetitions: {per}")
    elif "canaries" in data:
        lines.append("canaries: none planted (add `canaries:` to the training config)")
    extraction = data.get("extraction")
    if extraction:
        parts = []
        for side in ("candidate", "base"):
            e = extraction[side]
            who = "fine-tune" if side == "candidate" else "base model"
            parts.append(f"{who} members {e['member_rate']:.3f} (n {e['members']}) − "
                         f"non-members {e['nonmember_rate']:.3f} (n {e['non_members']}) = "
                         f"{e['difference']:+.3f} [{e['low']:+.3f}, {e['high']:+.3f}]")
        lines.append("verbatim extraction (exact suffix after a prefix): " + "; ".join(parts))
    pii = data.get("pii")
    if pii:
        only = ", ".join(pii["only_candidate"][:8]) or "none"
        lines.append(f"PII: {pii['training_values']} distinct values in the training records; "
                     f"{pii['probed']} probe outputs scanned; in the fine-tune's outputs "
                     f"{len(pii['candidate'])}, in the base model's {len(pii['base'])}; only "
                     f"the fine-tune's: {only}")
    return lines


HEADERS = ("attack", "AUC fine-tune (95% CI)", "TPR@1%FPR fine-tune", "AUC base model")


def render_console(name: str, data: dict[str, Any]) -> Group:
    table = Table(box=box.SIMPLE_HEAD, header_style="bold", pad_edge=False)
    for header in HEADERS:
        table.add_column(header, justify="left" if header == "attack" else "right")
    for row in rows(data):
        table.add_row(*row)
    parts: list[Any] = [Text(f"leakage · {name}", style="bold"), Text(headline(data)), table]
    parts += [Text(line) for line in probe_lines(data)]
    parts += [Text(line, style="dim") for line in notes(data)]
    return Group(*parts)


def render_markdown(name: str, data: dict[str, Any]) -> list[str]:
    lines = [f"## Leakage: {name}", "", headline(data), "",
             "| " + " | ".join(HEADERS) + " |", "|---|---|---|---|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows(data)]
    lines += ["", *[f"- {line}" for line in probe_lines(data)],
              *[f"- {line}" for line in notes(data)], ""]
    return lines


def render_html(name: str, data: dict[str, Any]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in HEADERS)
    body = "".join("<tr>" + "".join(
        f"<td{' class=num' if i else ''}>{escape(cell)}</td>" for i, cell in enumerate(row))
        + "</tr>" for row in rows(data))
    extra = "".join(f"<p>{escape(line)}</p>" for line in probe_lines(data))
    extra += "".join(f"<p class=muted>{escape(line)}</p>" for line in notes(data))
    return (f'<section class="card"><h2>Leakage: {escape(name)}</h2>'
            f"<p>{escape(headline(data))}</p><table><tr>{head}</tr>{body}</table>{extra}"
            "</section>")
