"""Per-example results of a verdict as a table (pandas): where the fine-tune wins and loses.

A verdict says whether the candidate beats the best baseline; the question that follows is
*on which examples*. `example_frame` joins the candidate's and each best baseline's run
records (the ones the verdict names, hash-checked) by example id: one row per suite, example
and criterion, with both scores, both outputs and whether the candidate won, lost or tied.
`evalgate report --csv` writes it for a spreadsheet or a notebook; `outcome_counts` sums it
per criterion (the discordant pairs behind McNemar's test).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from evalgate.errors import ConfigError
from evalgate.eval.records import RunRecord, load_record
from evalgate.util.files import sha256_file

COLUMNS = ["suite", "criterion", "id", "candidate_score", "baseline", "baseline_score",
           "outcome", "candidate_output", "baseline_output", "candidate_finish_reason"]


def _record(root: Path, entry: dict) -> RunRecord:
    path = root / entry["path"]
    if not path.is_file() or sha256_file(path) != entry["sha256"]:
        raise ConfigError("run record missing or changed since the verdict was written",
                          path=path, fix="re-run `evalgate gate` to write a current verdict")
    return load_record(path)


def example_frame(verdict, root: Path) -> pd.DataFrame:
    """One row per (suite, criterion, example) of the verdict's criteria."""
    rows = []
    loaded: dict[str, RunRecord] = {}
    for spec in verdict.criteria:
        info = verdict.records[spec.suite]
        candidate = loaded.setdefault(info["candidate"]["path"], _record(root, info["candidate"]))
        best = next((c.baseline_system for c in verdict.checks
                     if (c.suite, c.criterion) == (spec.suite, spec.name) and c.baseline_system),
                    None)
        baseline = None
        if best is not None:
            entry = info["baselines"][best]
            baseline = loaded.setdefault(entry["path"], _record(root, entry))
        by_id = {e.id: e for e in baseline.examples} if baseline else {}
        sign = 1.0 if spec.higher_is_better else -1.0
        for example in candidate.examples:
            if spec.name not in example.scores:  # e.g. a capability suite's text documents
                continue
            score = float(example.scores[spec.name])
            other = by_id.get(example.id)
            base_score = (float(other.scores[spec.name])
                          if other is not None and spec.name in other.scores else float("nan"))
            diff = sign * (score - base_score)
            outcome = ("—" if other is None else "win" if diff > 0 else "loss" if diff < 0
                       else "tie")
            rows.append({"suite": spec.suite, "criterion": spec.name, "id": example.id,
                         "candidate_score": score, "baseline": best,
                         "baseline_score": base_score, "outcome": outcome,
                         "candidate_output": example.output,
                         "baseline_output": other.output if other else None,
                         "candidate_finish_reason": example.finish_reason})
    return pd.DataFrame(rows, columns=COLUMNS)


def outcome_counts(frame: pd.DataFrame) -> pd.DataFrame:
    """Wins, losses and ties of the candidate against the best baseline per criterion."""
    counts = (frame.groupby(["suite", "criterion", "outcome"], sort=False).size()
              .unstack("outcome", fill_value=0))
    for column in ("win", "loss", "tie"):
        if column not in counts:
            counts[column] = 0
    return counts[["win", "loss", "tie"]].reset_index()
