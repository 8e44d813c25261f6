"""Run records: the per-example outputs and scores of one system on one suite, with hashes.

A record is the unit the gate reads (never models), so it carries everything a verdict needs:
per-example scores for pairing, the criterion results, and the hashes of model, adapter,
system, suite, data and engine that produced them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from evalgate.errors import ConfigError
from evalgate.util.files import atomic_write_json

RECORD_FORMAT = 1
# ExampleRecord.finish_reason of an output the engine cut at `max_new_tokens` (its other values:
# "eos", "stop"); evalgate.models.engine.Generation writes it, the cache keeps it per output.
LIMIT_REASON = "length"


@dataclass(frozen=True)
class CriterionResult:
    name: str
    metric: str
    value: float
    low: float
    high: float
    n: int
    interval: str
    bound: str
    status: str
    summary: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class ExampleRecord:
    id: str
    output: str
    prompt_tokens: int
    new_tokens: int
    finish_reason: str
    cached: bool
    scores: dict[str, float]
    details: dict[str, Any] = field(default_factory=dict)
    retrieved: tuple[str, ...] = ()
    truncated_from: int | None = None  # prompt tokens before its input was cut to fit


@dataclass(frozen=True)
class RunRecord:
    run_key: str
    created_at: str
    evalgate_version: str
    engine_version: str
    suite: dict[str, Any]
    system: dict[str, Any]
    model: dict[str, Any]
    generation: dict[str, Any]
    criteria: tuple[CriterionResult, ...]
    examples: tuple[ExampleRecord, ...]
    stats: dict[str, Any]
    retrieval: dict[str, Any] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()

    @property
    def stopped_at_limit(self) -> dict[str, Any]:
        """{"count", "share"} of outputs that hit `max_new_tokens` (see `limit_summary`)."""
        return self.generation.get("stopped_at_limit") or limit_summary(self.examples)

    @property
    def passed(self) -> bool:
        """Every criterion this run can decide passes (RELATIVE ones are the gate's)."""
        return all(c.status in ("PASS", "RELATIVE") for c in self.criteria)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["format"] = RECORD_FORMAT
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RunRecord:
        data = dict(data)
        data.pop("format", None)
        data["criteria"] = tuple(CriterionResult(**c) for c in data["criteria"])
        data["examples"] = tuple(ExampleRecord(**{**e, "retrieved": tuple(e.get("retrieved", ()))})
                                 for e in data["examples"])
        data["warnings"] = tuple(data.get("warnings", ()))
        return cls(**data)

    def save(self, path: Path) -> None:
        atomic_write_json(path, self.to_json())


def limit_summary(examples: Sequence[ExampleRecord]) -> dict[str, Any]:
    """How many outputs stopped at the generation limit instead of at EOS or a stop string,
    and their share: such answers may be cut off (stored in the record's `generation`)."""
    count = sum(example.finish_reason == LIMIT_REASON for example in examples)
    return {"count": count, "share": count / len(examples) if examples else 0.0}


def load_record(path: Path) -> RunRecord:
    try:
        return RunRecord.from_json(json.loads(Path(path).read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"not a readable run record: {exc}", path=path,
                          fix="re-run `evalgate eval` to write it again") from exc


def record_path(reports_dir: Path, suite: str, system: str, run_key: str) -> Path:
    """Where a run record lives: one file per (suite, system, run key); unchanged runs overwrite
    their own file with identical content."""
    return reports_dir / "runs" / suite / f"{system}-{run_key[:12]}.json"


def save_unmeasured(project: Any, suite: Any, system: Any, reason: str) -> tuple[RunRecord, Path]:
    """The record of a suite a candidate could not be measured on (an endpoint gives no
    log-probs; no manifest names the training records): no examples, and the reason in
    `stats.unmeasured`, so every criterion of the suite is decided INCONCLUSIVE with that
    reason and the verdict still recomputes from records alone."""
    from evalgate import __version__
    from evalgate.util.clock import utc_now
    from evalgate.util.files import sha256_json
    from evalgate.util.paths import display_path

    run_key = sha256_json({"unmeasured": reason, "suite": suite.config_sha256,
                           "system": system.name})
    record = RunRecord(
        run_key=run_key, created_at=utc_now(), evalgate_version=__version__, engine_version="",
        suite={"name": suite.name, "path": display_path(suite.path, project.root),
               "config_sha256": suite.config_sha256, "data_sha256": suite.dataset.sha256,
               "n": 0},
        system={"name": system.name, "kind": system.config.kind,
                "backend": system.config.backend.kind},
        model={}, generation={}, criteria=(), examples=(), stats={"unmeasured": reason})
    path = record_path(project.reports_dir, suite.name, system.name, run_key)
    record.save(path)
    return record, path
