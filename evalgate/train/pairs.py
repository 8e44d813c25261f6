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
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evalgate.errors import RunError
from evalgate.fileio import atomic_write_text, sha256_file
from evalgate.models.engine import Engine, GenerationParams
from evalgate.suite import Suite
from evalgate.train.data import Pair, TrainExample
from evalgate.train.tokens import ChatTokens


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

    def summary(self) -> dict[str, Any]:
        return {"source": self.source, "negatives": self.negatives, "count": len(self.pairs),
                "ids": [p.id for p in self.pairs], "file": self.path.name, "sha256": self.sha256,
                "prompts_tried": self.prompts_tried, "failed_criteria": self.failed_criteria}


def choose_prompts(members: Sequence[TrainExample], limit: int | None,
                   seed: int) -> list[TrainExample]:
    """All members, or a seeded sample of `limit` of them (kept in pool order)."""
    if limit is None or limit >= len(members):
        return list(members)
    picked = set(random.Random(f"evalgate-pairs:{seed}").sample(range(len(members)), limit))
    return [example for index, example in enumerate(members) if index in picked]


def generate_pairs(examples: Sequence[TrainExample], suite: Suite, engine: Engine,
                   tokens: ChatTokens, on_done: Any = None) -> tuple[list[Pair], dict[str, int],
                                                                   list[dict[str, Any]]]:
    """Answer every prompt, score each answer with the suite's criteria, pair the failures.

    Returns the pairs, how often each criterion failed, and one record per pair for the file."""
    params = GenerationParams(max_new_tokens=suite.config.generation.max_new_tokens,
                              stop=tuple(suite.config.generation.stop))
    prompts = [tokens.tokenizer.apply_chat_template(list(ex.prompt), tokenize=False,
                                                    add_generation_prompt=True)
               for ex in examples]
    outputs = engine.generate(prompts, params, on_done=on_done)
    pairs: list[Pair] = []
    records: list[dict[str, Any]] = []
    failures = {name: 0 for name in suite.metrics}
    for example, output in zip(examples, outputs):
        scores = {name: metric.score(example.row, output.text).value
                  for name, metric in suite.metrics.items()}
        failed = sorted(name for name, value in scores.items() if value < 1)
        for name in failed:
            failures[name] += 1
        if failed and output.text.strip() != example.answer.strip():
            pairs.append(Pair(example.id, example.prompt, example.answer, output.text))
            records.append({"id": example.id, "prompt": list(example.prompt),
                            "chosen": example.answer, "rejected": output.text,
                            "failed": failed, "finish_reason": output.finish_reason})
    return pairs, failures, records


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
