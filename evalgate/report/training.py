"""Rich rendering of a training run: one row per stage, the pairs and what the guards said."""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text

from evalgate.train.pairs import shortfall


def render_training(outcome) -> Group:
    root = outcome.plan.project.root
    table = Table(title=f"train {outcome.plan.config.name} → "
                        f"{outcome.plan.run_dir.relative_to(root)}", title_justify="left")
    for column in ("stage", "steps", "seen / pool", "tokens", "tokens/s", "final loss",
                   "wall time", "adapter"):
        table.add_column(column, justify="left" if column in ("stage", "adapter")
                         else "right")
    for stage in outcome.stages:
        loss = f"{stage.final_loss:.4f}" if stage.final_loss is not None else "–"
        resumed = f" (resumed at {stage.resumed_from_step})" if stage.resumed_from_step else ""
        table.add_row(stage.stage + resumed, str(stage.steps),
                      f"{stage.seen} / {stage.examples}", f"{stage.tokens:,}",
                      f"{stage.tokens_per_second:,.0f}", loss, f"{stage.seconds:,.0f} s",
                      f"{stage.adapter}/")
    lines: list[Any] = [table]
    if outcome.pairs:
        lines.append(Text(f"pairs: {outcome.pairs['count']} from {outcome.pairs['source']}"
                          + (f" ({outcome.pairs['negatives']} negatives, "
                             f"{outcome.pairs['prompts_tried']} prompts tried)"
                             if outcome.pairs["source"] == "auto" else ""), style="dim"))
        short = shortfall(outcome.pairs, outcome.plan.config, outcome.plan.suite.name)
        skipped = (outcome.manifest or {}).get("skipped_stages") or {}
        for name, reason in skipped.items():
            lines.append(Text(f"{name.upper()} skipped: {reason}; the adapter is the "
                              f"{outcome.stages[-1].stage.upper()} stage", style="yellow"))
        if short is not None and not skipped:
            stage = outcome.plan.config.preference_stage.upper()
            lines.append(Text(f"{stage} had too little signal to matter: it trained on "
                              f"{short} (pairs.on_too_few: warn)", style="yellow"))
    alias = outcome.plan.run_dir.parent / outcome.plan.config.name
    if alias.is_symlink():
        lines.append(Text(f"{alias.relative_to(root)} → {outcome.plan.run_id} (serve it with "
                          f"adapter: ../{alias.relative_to(root)}/{outcome.stages[-1].adapter} "
                          "in a system YAML)", style="dim"))
    if outcome.reused:
        lines.append(Text("already trained: reused the finished run (same config, data and "
                          "model); nothing was trained", style="yellow"))
    return Group(*lines)
