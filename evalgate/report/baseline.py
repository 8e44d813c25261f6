"""Rich rendering of the baseline record: suites × criteria rows, one column per baseline."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text

from evalgate.report.console import STATUS_STYLE


def render_baseline(record) -> Group:
    parts = []
    for suite_name, entry in record.suites.items():
        systems = list(entry["runs"])
        table = Table(title=f"baselines on [bold]{suite_name}[/]  (★ best per criterion: the bar "
                            "a fine-tune must clear)", title_justify="left", header_style="bold")
        table.add_column("criterion", overflow="fold", min_width=12)
        table.add_column("bound", justify="center", overflow="fold", ratio=1)
        for name in systems:
            table.add_column(name, justify="right", no_wrap=True)
        for criterion, best in entry["criteria"].items():
            cells = []
            for name in systems:
                figures = entry["runs"][name]["criteria"][criterion]
                star = "★ " if name == best["best"] else ""
                cell = Text(f"{star}{figures['value']:.3f} ", style="bold" if star else "")
                cell.append(figures["status"], style=STATUS_STYLE.get(figures["status"], ""))
                cell.append(f"\n{figures['low']:.3f}–{figures['high']:.3f}", style="dim")
                cells.append(cell)
            table.add_row(criterion, best["bound"], *cells)
        recalls = [entry["runs"][name]["retrieval"] for name in systems]
        if any(r.get("recall_at_k") is not None for r in recalls):
            cells = [Text(f"{r['recall_at_k']:.3f}\n{r['recall_low']:.3f}–{r['recall_high']:.3f}")
                     if r.get("recall_at_k") is not None else Text("—", style="dim")
                     for r in recalls]
            table.add_row("recall@k", "", *cells, style="dim")
        parts.append(table)
        for name in systems:
            for warning in entry["runs"][name]["warnings"]:
                parts.append(Text.from_markup(f"  [bold yellow]warning[/] {name}: {warning}"))
    return Group(*parts)
