"""The capability section of a gate report: did the fine-tune forget?

Rendered from the verdict's `sections[suite]` (written by evalgate.capability.run.section):
the base model's accuracy against chance (why accuracy may have no power), every signal of the
base model and the candidate side by side, the subjects that dropped most, and where the
general text comes from. One function per output (terminal, Markdown, HTML).
"""

from __future__ import annotations

from html import escape
from typing import Any

from rich import box
from rich.console import Group
from rich.table import Table
from rich.text import Text

SHOWN_SUBJECTS = 8
SIGNAL_WORDS = {
    "accuracy": "accuracy",
    "gold_logprob": "gold answer log-prob (over the choices)",
    "agreement": "same answer as the base model",
    "answer_kl": "KL(base ‖ candidate) of the answers, nats",
    "log_perplexity": "general text NLL per token, nats",
}


def _num(x: Any, signed: bool = False) -> str:
    if x is None or x != x:
        return "—"
    return f"{x:+.3f}" if signed else f"{x:.3f}"


def headline(data: dict[str, Any]) -> str:
    """The base model against chance, in one sentence."""
    base = data["base_accuracy"]
    verdict = ("clearly above chance: a drop in accuracy can show" if data["above_chance"]
               else "not clearly above chance: accuracy has no power to show a drop, the "
                    "continuous signals decide")
    return (f"{data['benchmark']} via the {data['engine']} scorer, {data['questions']} "
            f"questions in {data['subjects']} subjects ({data['k_shot']}-shot, {data['dtype']}"
            f"{', ' + data['quantization'] if data['quantization'] not in (None, 'none') else ''}"
            f"): the base model scores {_num(base['value'])} (95% CI {_num(base['low'])}–"
            f"{_num(base['high'])}) against chance {data['chance']:g} — {verdict}.")


def dropped_most(data: dict[str, Any]) -> list[dict[str, Any]]:
    return [row for row in data["subjects_table"][:SHOWN_SUBJECTS]]


def text_line(data: dict[str, Any]) -> str | None:
    text = data.get("text")
    if not text:
        return None
    return (f"general text: {text['source']} — {text['documents']} documents, "
            f"{text['tokens']:,} tokens scored (sha256 {text['sha256'][:12]})")


def cost_line(data: dict[str, Any]) -> str:
    cost = data["cost"]

    def part(name: str) -> str:
        c = cost[name]
        if not c["misses"]:
            return f"{name} all cached ({c['hits']})"
        return f"{name} {c['misses']} scored in {c['seconds']:.1f} s, {c['hits']} cached"
    return "cost: " + " · ".join(part(name) for name in ("base", "candidate"))


def render_console(name: str, data: dict[str, Any]) -> Group:
    parts: list[Any] = [Text(f"capability · {name}", style="bold"), Text(headline(data))]
    signals = Table(box=box.SIMPLE_HEAD, header_style="bold", pad_edge=False)
    signals.add_column("signal")
    signals.add_column("base model", justify="right")
    signals.add_column("fine-tune (95% CI)", justify="right")
    for s in data["signals"]:
        signals.add_row(f"{s['criterion']} [dim]{SIGNAL_WORDS.get(s['signal'], '')}[/]",
                        _num(s["base"]),
                        f"{_num(s['candidate'])} [dim]{_num(s['low'])}…{_num(s['high'])}[/]")
    parts.append(signals)
    rows = dropped_most(data)
    if rows:
        subjects = Table(title="subjects that dropped most", title_justify="left",
                         box=box.SIMPLE_HEAD, header_style="bold", pad_edge=False)
        for column in ("subject", "n", "base acc", "fine-tune acc", "drop", "Δ gold log-prob"):
            subjects.add_column(column, justify="left" if column == "subject" else "right")
        for row in rows:
            subjects.add_row(row["subject"], str(row["n"]), _num(row["base_accuracy"]),
                             _num(row["candidate_accuracy"]), _num(row["drop"], signed=True),
                             _num(row["candidate_gold_logprob"] - row["base_gold_logprob"],
                                  signed=True))
        parts.append(subjects)
    for line in (text_line(data), cost_line(data)):
        if line:
            parts.append(Text(line, style="dim"))
    return Group(*parts)


def render_markdown(name: str, data: dict[str, Any]) -> list[str]:
    lines = [f"## Capability: {name}", "", headline(data), "",
             "| signal | base model | fine-tune (95% CI) |", "|---|---|---|"]
    for s in data["signals"]:
        lines.append(f"| {s['criterion']} ({SIGNAL_WORDS.get(s['signal'], s['signal'])}) | "
                     f"{_num(s['base'])} | {_num(s['candidate'])} ({_num(s['low'])}–"
                     f"{_num(s['high'])}) |")
    rows = dropped_most(data)
    if rows:
        lines += ["", "Subjects that dropped most:", "",
                  "| subject | n | base acc | fine-tune acc | drop | Δ gold log-prob |",
                  "|---|---|---|---|---|---|"]
        for row in rows:
            lines.append(f"| {row['subject']} | {row['n']} | {_num(row['base_accuracy'])} | "
                         f"{_num(row['candidate_accuracy'])} | {_num(row['drop'], True)} | "
                         f"{_num(row['candidate_gold_logprob'] - row['base_gold_logprob'], True)}"
                         " |")
    lines.append("")
    for line in (text_line(data), cost_line(data)):
        if line:
            lines += [f"- {line}"]
    lines.append("")
    return lines


def render_html(name: str, data: dict[str, Any]) -> str:
    signal_rows = "".join(
        f"<tr><td>{escape(s['criterion'])} <span class=muted>"
        f"{escape(SIGNAL_WORDS.get(s['signal'], s['signal']))}</span></td>"
        f"<td class=num>{_num(s['base'])}</td><td class=num>{_num(s['candidate'])} "
        f"<span class=muted>{_num(s['low'])}–{_num(s['high'])}</span></td></tr>"
        for s in data["signals"])
    subject_rows = "".join(
        f"<tr><td>{escape(r['subject'])}</td><td class=num>{r['n']}</td>"
        f"<td class=num>{_num(r['base_accuracy'])}</td>"
        f"<td class=num>{_num(r['candidate_accuracy'])}</td>"
        f"<td class=num>{_num(r['drop'], True)}</td>"
        f"<td class=num>{_num(r['candidate_gold_logprob'] - r['base_gold_logprob'], True)}</td>"
        "</tr>" for r in dropped_most(data))
    subjects = (f"<h3>Subjects that dropped most</h3><table><tr><th>subject</th><th>n</th>"
                f"<th>base acc</th><th>fine-tune acc</th><th>drop</th><th>Δ gold log-prob</th>"
                f"</tr>{subject_rows}</table>") if subject_rows else ""
    notes = "".join(f"<p class=muted>{escape(line)}</p>"
                    for line in (text_line(data), cost_line(data)) if line)
    return (f'<section class="card"><h2>Capability: {escape(name)}</h2>'
            f"<p>{escape(headline(data))}</p>"
            f"<table><tr><th>signal</th><th>base model</th><th>fine-tune (95% CI)</th></tr>"
            f"{signal_rows}</table>{subjects}{notes}</section>")
