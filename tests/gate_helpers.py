"""Hand-made run records and specs for gate tests (no model, no suite files)."""

from __future__ import annotations

from evalgate.checks import CriterionSpec
from evalgate.eval.records import ExampleRecord, RunRecord


def make_record(system: str, scores: dict[str, list[float]], suite: str = "s",
                data_sha256: str = "d" * 64) -> RunRecord:
    n = len(next(iter(scores.values())))
    examples = tuple(ExampleRecord(id=f"ex-{i}", output="", prompt_tokens=1, new_tokens=1,
                                   finish_reason="stop", cached=True,
                                   scores={k: float(v[i]) for k, v in scores.items()})
                     for i in range(n))
    return RunRecord(run_key=f"{system}-key", created_at="2026-01-01T00:00:00+00:00",
                     evalgate_version="0", engine_version="0",
                     suite={"name": suite, "config_sha256": "c" * 64, "data_sha256": data_sha256,
                            "n": n},
                     system={"name": system}, model={}, generation={}, criteria=(),
                     examples=examples, stats={})


def spec(name: str = "acc", *, binary: bool = True, min: float | None = None,
         max: float | None = None, beat: float | None = None, max_drop: float | None = None,
         suite: str = "s") -> CriterionSpec:
    return CriterionSpec(suite=suite, name=name, metric="exact_match", binary=binary, min=min,
                         max=max, beat_margin=beat, max_drop=max_drop,
                         higher_is_better=min is not None or max is None, fingerprint="f")
