"""Suite kinds: what a suite measures, each a module plus an entry in `SUITE_KINDS`.

    task        held-out examples, an input template and criteria on the outputs (exact
                match, JSON Schema, contains), compared with the best baseline (the default)
    capability  multiple-choice questions (MMLU) and general text, the candidate compared with
                its own base model: did the fine-tune forget? (evalgate.capability.suite)
    leakage     membership inference on the candidate's own training records against its
                held-out ones: did the fine-tune memorise? (evalgate.leakage.suite)
    judge       a judge model's pairwise preference, candidate against the best baseline,
                validated on gold pairs first (evalgate.judge.suite)

A suite file names its kind with `kind:` (omitted: `task`). A kind is a module with a loader
(its own keys, validated strictly), its config model (what pytest collects criteria from) and,
for kinds not compared with the project's baselines, a `judge` that measures a candidate and
its reference and returns their run records; an unknown kind is an error naming the known ones.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evalgate.errors import ConfigError
from evalgate.util.yamlio import read_yaml

DEFAULT_KIND = "task"


@dataclass(frozen=True)
class KindJudgement:
    """A candidate measured on one suite of a kind with its own reference: the candidate's
    run record, the reference run per criterion, and the report section (or None)."""

    candidate: tuple[Any, Path]  # (RunRecord, where it was written)
    best: dict[tuple[str, str], tuple[str, Any, Path]]  # (suite, criterion) → reference run
    section: dict[str, Any] | None = None


@dataclass(frozen=True)
class SuiteKind:
    name: str
    description: str
    load: Callable[[Path, dict[str, Any]], Any]  # (suite file, its YAML without `kind`) → Suite
    config_model: type  # the suite file's pydantic model (criteria without loading data)
    # (project, suite, candidate system, model pool, progress) → KindJudgement. None: the
    # candidate is compared with the project's baselines (task suites).
    judge: Callable[..., KindJudgement] | None = None
    # (suite file, its YAML) → [(key, data file, pinned value, actual value, rows)]: what
    # `evalgate pin` checks and rewrites. None: the task default, one `sha256` of `data`.
    pins: Callable[[Path, dict[str, Any]], list[tuple[str, Path, Any, str, int]]] | None = None
    # What a candidate must offer to be measured (see `unmet_needs`): "logprobs" (its backend
    # scores log-likelihoods), "training_records" (a manifest names what it was trained on).
    # A candidate that lacks one is not measured: every criterion of the suite says
    # INCONCLUSIVE with the reason, never PASS by default.
    needs: frozenset[str] = frozenset()
    # What a kind with a judge of its own compares a candidate with (for messages).
    reference: str = "the project's baselines"

    @property
    def uses_baselines(self) -> bool:
        return self.judge is None


SUITE_KINDS: dict[str, SuiteKind] = {}


def register_kind(kind: SuiteKind) -> SuiteKind:
    if kind.name in SUITE_KINDS:
        raise ValueError(f"suite kind '{kind.name}' is registered twice")
    SUITE_KINDS[kind.name] = kind
    return kind


def suite_kind(path: Path, raw: dict[str, Any]) -> SuiteKind:
    """The kind a suite file names (default: task); unknown kinds are a ConfigError."""
    _register_builtin()
    name = raw.get("kind", DEFAULT_KIND)
    if name not in SUITE_KINDS:
        known = ", ".join(f"{k} ({v.description})" for k, v in SUITE_KINDS.items())
        raise ConfigError(f"unknown suite kind '{name}'", path=path, key="kind",
                          fix=f"use one of: {known}")
    return SUITE_KINDS[name]


def kind_of(suite: Any) -> SuiteKind:
    """The registered kind of a loaded suite (task suites carry no `kind` attribute)."""
    _register_builtin()
    return SUITE_KINDS[getattr(suite, "kind", DEFAULT_KIND)]


def unmet_needs(kind: SuiteKind, candidate: Any) -> str | None:
    """Why `candidate` (a System) cannot be measured on a suite of `kind`, or None."""
    from evalgate.systems.backends import BACKENDS

    backend = candidate.config.backend.kind
    if "logprobs" in kind.needs and not BACKENDS[backend].build.scores_logprobs:
        return (f"the candidate is served by a {backend} endpoint, which gives evalgate no "
                f"log-probs; a {kind.name} suite scores log-likelihoods: gate the adapter "
                "itself on the local backend (`evalgate gate ADAPTER --system SYSTEM.yaml`) "
                "to measure it")
    if "training_records" in kind.needs:
        adapter = candidate.adapter_path
        if adapter is None or not _has_manifest(adapter):
            return ("the candidate was not trained by `evalgate train`: no manifest names its "
                    "training records, so membership, canaries and training-data PII cannot "
                    "be tested; train it with `evalgate train` to measure memorisation")
    return None


def _has_manifest(adapter: Path) -> bool:
    from evalgate.train.manifest import MANIFEST

    return any((folder / MANIFEST).is_file() for folder in (adapter, adapter.parent))


def read_suite_config(path: Path) -> Any:
    """A suite file's config (any kind) without loading its data: what pytest collects."""
    from evalgate.util.yamlio import parse_model

    raw = read_yaml(Path(path))
    kind = suite_kind(Path(path), raw)
    return parse_model(kind.config_model, {k: v for k, v in raw.items() if k != "kind"},
                       Path(path))


def load_any_suite(path: Path):
    """Read a suite file of any registered kind."""
    raw = read_yaml(Path(path))
    kind = suite_kind(Path(path), raw)
    # The kind is not part of the kind's own config (nor of its hash): `kind: task` written
    # out and left to the default are the same suite.
    return kind.load(Path(path), {k: v for k, v in raw.items() if k != "kind"})


def _register_builtin() -> None:
    if DEFAULT_KIND in SUITE_KINDS:
        return
    from evalgate.capability.gate import judge_capability
    from evalgate.capability.suite import (
        CapabilitySuiteConfig,
        capability_pins,
        load_capability_suite,
    )
    from evalgate.judge.run import judge_pairwise
    from evalgate.judge.suite import JudgeSuiteConfig, load_judge_suite
    from evalgate.leakage.gate import judge_leakage
    from evalgate.leakage.suite import LeakageSuiteConfig, load_leakage_suite
    from evalgate.suite.load import SuiteConfig, load_task_suite

    register_kind(SuiteKind(DEFAULT_KIND, "held-out examples scored by criteria",
                            load_task_suite, SuiteConfig))
    register_kind(SuiteKind("capability", "MMLU and general text against the base model",
                            load_capability_suite, CapabilitySuiteConfig, judge_capability,
                            capability_pins, needs=frozenset({"logprobs"}),
                            reference="its base model"))
    # A leakage suite has no data of its own (the records come from the adapter's manifest,
    # pinned there by the trainer): nothing to pin.
    register_kind(SuiteKind("leakage", "membership inference on the training records",
                            load_leakage_suite, LeakageSuiteConfig, judge_leakage,
                            lambda path, raw: [],
                            needs=frozenset({"logprobs", "training_records"}),
                            reference="its base model"))
    register_kind(SuiteKind("judge", "a judge model's preference against the best baseline",
                            load_judge_suite, JudgeSuiteConfig, judge_pairwise,
                            reference="the baselines' answers, through a judge model"))
