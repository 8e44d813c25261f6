"""The judge section of a gate report: which answer does a judge prefer, and can it be trusted?

Rendered from the verdict's `sections[suite]` (evalgate.judge.run): the judge (model, backend,
log-probs or JSON), its validation on gold pairs (agreement with interval, position
consistency, ties, unparseable verdicts, trusted or not), then per baseline the candidate's
wins / ties / losses, win rate and position consistency, the mean length of both sides and how
often the longer answer won (length bias in plain sight)."""

from __future__ import annotations

from html import escape
from typing import Any

from rich import box
from rich.console import Group
from rich.table import Table
from rich.text import Text

HEADERS = ("against", "wins", "ties", "losses", "win rate", "position consistency",
           "unparsed")


def _pct(x: Any) -> str:
    return "—" if x is None or x != x else f"{x:.0%}"


def judge_line(data: dict[str, Any]) -> str:
    judge = data.get("judge") or {}
    model = judge.get("served_model") or judge.get("ref") or "?"
    where = f" at {judge['base_url']}" if judge.get("base_url") else ""
    how = ("verdict from the log-probs of A / B" if judge.get("mode") == "logprobs"
           else "verdict as strict JSON")
    return f"judge: {model}{where} ({judge.get('backend', 'local')}; {how}; both orders)"


def validation_line(data: dict[str, Any]) -> str:
    v = data.get("validation") or {}
    if not v.get("n"):
        return f"NOT TRUSTED — {v.get('reason') or 'no gold pairs'}; the candidate was not judged"
    head = (f"gold pairs: agrees with {v['agree']} of {v['n']} ({_pct(v['agreement'])}, 95% "
            f"CI {_pct(v['low'])}–{_pct(v['high'])}; needs {_pct(v['min_agreement'])}) · "
            f"position consistency {_pct(v['consistency'])} · {v['ties']} ties · "
            f"{v['unparsed']} unparseable verdicts")
    if v.get("trusted"):
        return f"trusted — {head}"
    return f"NOT TRUSTED — {head}; the candidate was not judged (its verdicts would not count)"


def rows(data: dict[str, Any]) -> list[tuple[str, ...]]:
    bar = data.get("against")
    return [(f"{name}{' (the bar)' if name == bar else ''}", str(t["wins"]), str(t["ties"]),
             str(t["losses"]), _pct(t["win_rate"]), _pct(t["consistency"]), str(t["unparsed"]))
            for name, t in (data.get("tallies") or {}).items()]


def notes(data: dict[str, Any]) -> list[str]:
    chars = data.get("mean_chars") or {}
    lines = [f"mean answer length: candidate {chars.get('candidate', 0):.0f} chars, "
             f"{data.get('against')} {chars.get('baseline', 0):.0f} chars"]
    longer = data.get("longer_won")
    if longer and longer["decided"]:
        lines.append(f"the longer answer won {longer['won']} of {longer['decided']} decided "
                     "pairs of unequal length")
    return lines


def render_console(name: str, data: dict[str, Any]) -> Group:
    parts: list[Any] = [Text(f"judge · {name}", style="bold"), Text(judge_line(data)),
                        Text(validation_line(data),
                             style="" if (data.get("validation") or {}).get("trusted")
                             else "bold yellow")]
    if data.get("tallies"):
        table = Table(box=box.SIMPLE_HEAD, header_style="bold", pad_edge=False)
        for header in HEADERS:
            table.add_column(header, justify="left" if header == "against" else "right")
        for row in rows(data):
            table.add_row(*row)
        parts.append(table)
    parts += [Text(line, style="dim") for line in notes(data)]
    return Group(*parts)


def render_markdown(name: str, data: dict[str, Any]) -> list[str]:
    lines = [f"## Judge: {name}", "", judge_line(data), "", f"**{validation_line(data)}**", ""]
    if data.get("tallies"):
        lines += ["| " + " | ".join(HEADERS) + " |", "|" + "---|" * len(HEADERS)]
        lines += ["| " + " | ".join(row) + " |" for row in rows(data)]
        lines.append("")
    lines += [f"- {line}" for line in notes(data)]
    lines += ["", "<details><summary>rubric</summary>", "", data.get("rubric", ""), "",
              "</details>", ""]
    return lines


def render_html(name: str, data: dict[str, Any]) -> str:
    table = ""
    if data.get("tallies"):
        head = "".join(f"<th>{escape(h)}</th>" for h in HEADERS)
        body = "".join("<tr>" + "".join(
            f"<td{' class=num' if i else ''}>{escape(cell)}</td>" for i, cell in enumerate(row))
            + "</tr>" for row in rows(data))
        table = f"<table><tr>{head}</tr>{body}</table>"
    trusted = (data.get("validation") or {}).get("trusted")
    extra = "".join(f"<p class=muted>{escape(line)}</p>" for line in notes(data))
    return (f'<section class="card"><h2>Judge: {escape(name)}</h2>'
            f"<p>{escape(judge_line(data))}</p>"
            f'<p class="{"" if trusted else "warn"}"><b>{escape(validation_line(data))}</b></p>'
            f"{table}{extra}<details><summary>rubric</summary><pre>"
            f"{escape(data.get('rubric', ''))}</pre></details></section>")
