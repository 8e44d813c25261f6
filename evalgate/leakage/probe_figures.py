"""Figures from a leakage run record's probe examples, which the checks and the report's
leakage section read: canary exposure and extraction, exact-suffix matches of members and
non-members, training-data PII in the outputs. Pure functions over run records (importing no
model code), so a verdict can be recomputed from the records alone."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

CANARY, EXTRACT, ANSWER = "canary", "extract", "answer"


@dataclass(frozen=True)
class CanaryFigures:
    n: int
    mean_exposure: float | None
    low: float | None  # bootstrap 95% interval of the mean (seeded), None for one canary
    high: float | None
    max_exposure_bits: float | None  # log2 |R|: the highest exposure the ranking can show
    extracted: int
    per_canary: tuple[dict[str, Any], ...]


def canary_figures(record: Any) -> CanaryFigures:
    import numpy as np

    from evalgate.stats import BOOTSTRAP_SEED

    rows = [e for e in record.examples if e.id.startswith(CANARY + "/")]
    exposures = [e.scores["exposure"] for e in rows if "exposure" in e.scores]
    per = tuple({"id": e.id.split("/", 1)[1], "repetitions": e.details.get("repetitions"),
                 "exposure": e.scores.get("exposure"),
                 "extracted": bool(e.scores.get("extracted")), "output": e.output}
                for e in rows)
    sizes = [e.details.get("ranked_among") for e in rows if e.details.get("ranked_among")]
    mean = low = high = None
    if exposures:
        values = np.asarray(exposures, dtype=np.float64)
        mean = float(values.mean())
        if values.size > 1:
            rng = np.random.default_rng(BOOTSTRAP_SEED)
            means = values[rng.integers(0, values.size, size=(4000, values.size))].mean(axis=1)
            low, high = (float(x) for x in np.percentile(means, [2.5, 97.5]))
        else:
            low = high = mean
    return CanaryFigures(len(rows), mean, low, high,
                         math.log2(max(sizes)) if sizes else None,
                         sum(bool(e.scores.get("extracted")) for e in rows), per)


def extraction_matches(record: Any) -> tuple[list[bool], list[bool]]:
    """Exact-suffix matches of the members' and the non-members' extraction probes."""
    members, others = [], []
    for e in record.examples:
        if e.id.startswith(EXTRACT + "/"):
            (members if e.details.get("member") else others).append(
                bool(e.scores.get("exact_suffix")))
    return members, others


def pii_leaks(record: Any) -> dict[str, str]:
    """Training-data PII values (hash → masked) in the record's probe outputs."""
    found: dict[str, str] = {}
    for e in record.examples:
        for h, masked in zip(e.details.get("pii") or [], e.details.get("pii_masked") or []):
            found.setdefault(h, masked)
    return found


def pii_probed(record: Any) -> int:
    return sum(1 for e in record.examples
               if e.id.startswith((EXTRACT + "/", ANSWER + "/")))
