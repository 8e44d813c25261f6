"""On-policy preference pairs: the model's own failing answers as the rejected side.

`pairs: {source: auto}` generates, with evalgate's batched engine and the suite's generation
settings (greedy, its max_new_tokens and stop strings), an answer to each member prompt, scores
it with the suite's own criteria (the metric code `evalgate eval` uses), and keeps a pair where
any criterion scores it below 1: chosen = the gold answer, rejected = that output. The negatives
come from the policy the preference stage starts from (`negatives: policy`: the SFT adapter,
which makes them truly on-policy for DPO) or from the base model (`negatives: base`).

Generation uses the project's serving settings (dtype, quantisation), not the training
precision: the mistakes worth training away are the ones the served system makes. The pairs
are written to the run folder (`pairs.jsonl`) and recorded in the manifest by count, ids and
source; a resumed run reuses that file instead of generating again.

A preference stage needs pairs to learn from: zero pairs never train (a ConfigError), and fewer
than `pairs.min_pairs` are too little signal to matter: `pairs.on_too_few` decides whether the
run says so and goes on (`warn`, recorded in the manifest) or stops before the stage (`refuse`).
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evalgate.errors import RunError
from evalgate.models.chat import render_chat
from evalgate.models.engine import Engine, GenerationParams
from evalgate.suite.load import Suite
from evalgate.train.config import AutoPairs, TrainConfig
from evalgate.train.data import Pair, TrainExample
from evalgate.train.tokens import ChatTokens
from evalgate.util.files import atomic_write_text, sha256_file


@dataclass(frozen=True)
class PairSet:
    """The pairs a preference stage trains on and where they came from (for the manifest)."""

    pairs: tuple[Pair, ...]
    source: str  # "file" | "auto"
    negatives: str | None  # "policy" | "base" for auto pairs
    path: Path
    sha256: str
    prompts_tried: int
    failed_criteria: dict[str, int]
    passed: int | None = None  # auto: answers that passed every criterion (None: not recorded)

    def summary(self) -> dict[str, Any]:
        return {"source": self.source, "negatives": self.negatives, "count": len(self.pairs),
                "ids": [p.id for p in self.pairs], "file": self.path.name, "sha256": self.sha256,
                "prompts_tried": self.prompts_tried, "passed": self.passed,
                "failed_criteria": self.failed_criteria}


def choose_prompts(members: Sequence[TrainExample], limit: int | None,
                   seed: int) -> list[TrainExample]:
    """All members, or a seeded sample of `limit` of them (kept in pool order)."""
    if limit is None or limit >= len(members):
        return list(members)
    picked = set(random.Random(f"evalgate-pairs:{seed}").sample(range(len(members)), limit))
    return [example for index, example in enumerate(members) if index in picked]


def generate_pairs(examples: Sequence[TrainExample], suite: Suite, engine: Engine,
                   tokens: ChatTokens, on_done: Any = None
                   ) -> tuple[list[Pair], dict[str, int], list[dict[str, Any]], int]:
    """Answer every prompt, score each answer with the suite's criteria, pair the failures.

    Returns the pairs, how often each criterion failed, one record per pair for the file, and
    how many answers passed every criterion (already right: nothing to prefer against)."""
    params = GenerationParams(max_new_tokens=suite.config.generation.max_new_tokens,
                              stop=tuple(suite.config.generation.stop))
    prompts = [render_chat(tokens.tokenizer, ex.prompt) for ex in examples]
    outputs = engine.generate(prompts, params, on_done=on_done)
    pairs: list[Pair] = []
    records: list[dict[str, Any]] = []
    failures = {name: 0 for name in suite.metrics}
    passed = 0
    for example, output in zip(examples, outputs):
        scores = {name: metric.score(example.row, output.text).value
                  for name, metric in suite.metrics.items()}
        failed = sorted(name for name, value in scores.items() if value < 1)
        passed += not failed
        for name in failed:
            failures[name] += 1
        if failed and output.text.strip() != example.answer.strip():
            pairs.append(Pair(example.id, example.prompt, example.answer, output.text))
            records.append({"id": example.id, "prompt": list(example.prompt),
                            "chosen": example.answer, "rejected": output.text,
                            "failed": failed, "finish_reason": output.finish_reason})
    return pairs, failures, records, passed


def write_pairs(path: Path, records: Sequence[dict[str, Any]]) -> str:
    atomic_write_text(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
    return sha256_file(path)


def read_pairs(path: Path) -> list[Pair]:
    """Pairs written by `write_pairs` into a run folder (trusted: the manifest hashes them)."""
    pairs = []
    try:
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                pairs.append(Pair(row["id"], tuple(row["prompt"]), row["chosen"], row["rejected"]))
    except (OSError, ValueError, KeyError) as error:
        raise RunError(f"the run's pairs file {path} is unreadable ({error}); "
                       "start over with --restart") from error
    return pairs


def answered_by(config: TrainConfig) -> str:
    """Whose answers auto pairs reject: the SFT policy, or the base model (also for
    `negatives: policy` when no SFT stage comes first)."""
    if config.pairs.negatives == "policy" and "sft" in config.stages:
        return "SFT"
    return "base-model"


def why_few(summary: dict[str, Any], config: TrainConfig, suite: str) -> str:
    """Why a pair set (its summary: fresh or a manifest's) is as small as it is, in user terms."""
    guard, count = config.pairs, summary["count"]
    if not isinstance(guard, AutoPairs):
        return f"the pairs file {guard.path} holds no more"
    tried, passed = summary["prompts_tried"], summary.get("passed")
    reasons = []
    if passed:
        reasons.append(f"{passed} of {tried} {answered_by(config)} answers were already right "
                       f"(they pass every criterion of suite '{suite}')")
    if tried < guard.min_pairs:
        limit = "pairs.max_prompts" if guard.max_prompts == tried else "every pool member"
        reasons.append(f"only {tried} prompts were tried ({limit})")
    if not reasons:
        reasons.append(f"only {count} of {tried} {answered_by(config)} answers failed a "
                       f"criterion of suite '{suite}'")
    return "; ".join(reasons)


def shortfall(summary: dict[str, Any], config: TrainConfig, suite: str) -> str | None:
    """None when a pair set reaches `pairs.min_pairs`; else how many, the minimum and why."""
    count, minimum = summary["count"], config.pairs.min_pairs
    if count >= minimum:
        return None
    return (f"{count} preference pair{'' if count == 1 else 's'}, fewer than pairs.min_pairs = "
            f"{minimum}, because {why_few(summary, config, suite)}")


def more_pairs(config: TrainConfig) -> str:
    """How to get more pairs (each is a change of what trains, so a new run)."""
    guard = config.pairs
    if not isinstance(guard, AutoPairs):
        return f"add pairs to {guard.path}"
    ways = []
    if guard.max_prompts is not None:
        ways.append(f"raise pairs.max_prompts (now {guard.max_prompts})")
    if answered_by(config) == "SFT":
        ways.append("use pairs.negatives: base")
    ways.append("give a pairs file (pairs: {source: file, ...})")
    return ", ".join(ways)


def guard_record(summary: dict[str, Any], config: TrainConfig) -> dict[str, Any]:
    """What the manifest records of the guard next to the pairs' own summary."""
    guard = config.pairs
    return {"min_pairs": guard.min_pairs, "on_too_few": guard.on_too_few,
            "too_few": summary["count"] < guard.min_pairs}
