"""Rich rendering of run records: one table per run, criteria as rows, secondary figures below."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text

from evalgate.eval.records import RunRecord

STATUS_STYLE = {"PASS": "bold green", "FAIL": "bold red", "INCONCLUSIVE": "bold yellow",
                "RELATIVE": "dim", "PROMOTE": "bold green", "REJECT": "bold red"}


def status_text(status: str) -> Text:
    return Text(status, style=STATUS_STYLE.get(status, "bold"))


def format_value(value: float) -> str:
    return "n/a" if value != value else f"{value:.3f}"


def _model_line(model: dict, adapter: str) -> str:
    """Where the outputs came from: a local model's weights, or an endpoint's served model."""
    if model.get("backend", "local") != "local":
        return (f"[dim]model[/] {model['served_model']} [dim]at {model['base_url']} · "
                f"{model['backend']} endpoint[/]")
    return (f"[dim]model[/] {model['ref']}{adapter} [dim]· {model['dtype']} · "
            f"{model['quantization']} · weights {model['identity'][:12]}[/]")


def render_run(record: RunRecord) -> Group:
    suite, system, model = record.suite, record.system, record.model
    title = (f"[bold]{system['name']}[/] on [bold]{suite['name']}[/] "
             f"({suite['n']} examples)")
    table = Table(title=title, title_justify="left", header_style="bold")
    # Figures and status never wrap or shorten; on a narrow terminal the bound text wraps.
    table.add_column("criterion", overflow="fold", min_width=10)
    table.add_column("metric", style="dim", overflow="fold")
    table.add_column("value", justify="right", no_wrap=True, min_width=5)
    table.add_column("95% CI", justify="right", no_wrap=True, min_width=11)
    table.add_column("bound", justify="center", overflow="fold", ratio=1)
    table.add_column("status", justify="center", no_wrap=True, min_width=12)
    lines = []
    for result in record.criteria:
        table.add_row(result.name, result.metric, format_value(result.value),
                      f"{result.low:.3f}–{result.high:.3f}", result.bound,
                      status_text(result.status))
        if result.summary:
            figures = " · ".join(f"{key.replace('_', ' ')} {value:.3f}"
                                 for key, value in result.summary.items())
            lines.append(f"  [bold]{result.name}[/]: {figures}")
    retrieval = record.retrieval
    if retrieval.get("recall_at_k") is not None:
        lines.append(f"  [bold]retrieval[/] {retrieval['method']} top-{retrieval['k']} of "
                     f"{retrieval['chunks']} chunks: recall@{retrieval['k']} "
                     f"{retrieval['recall_at_k']:.3f} "
                     f"({retrieval['recall_low']:.3f}–{retrieval['recall_high']:.3f})")
    lines.extend(f"  [bold yellow]warning[/] {warning}" for warning in record.warnings)
    adapter = (f" + adapter {system['adapter']} ({system['adapter_sha256'][:12]})"
               if system.get("adapter") else "")
    stats = record.stats
    cache_note = " — all cached, nothing generated" if stats["cache_misses"] == 0 else ""
    facts = [
        *lines,
        _model_line(model, adapter),
        f"[dim]data[/] {suite['path']} [dim]· data {suite['data_sha256'][:12]} · "
        f"system {system['config_sha256'][:12]} · "
        f"{model.get('engine') or f'engine v{record.engine_version}'}[/]",
        f"[dim]cache[/] {stats['cache_hits']} hits / {stats['cache_misses']} misses{cache_note}"
        f" [dim]· {stats['new_tokens']} new tokens · {stats['seconds']:.1f} s[/]",
    ]
    return Group(table, Text.from_markup("\n".join(facts)))
