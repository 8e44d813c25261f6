"""Training data: rows → chat prompts built exactly as at serving time, tokens with a loss mask,
and the guards that must pass before any model loads.

Train with the prompt you serve with: a row's prompt is `system.prepare(suite).build(input)` →
messages → the tokenizer's chat template → `tokenizer(text, add_special_tokens=False)`, the very
path `evalgate eval` takes. The answer is the assistant turn as the template writes it, cut right
after the first end-of-sequence token the engine stops at, and only those tokens carry loss. A
template whose assistant turn has no such token is refused: the model would never learn to stop,
and the training loss would not show it.

Guards: the pool is pinned by sha256; every row needs its fields; no row may equal or
near-duplicate any suite's held-out inputs (the error names both ids); no example may exceed the
stage's max_length (truncation would cut the answer's EOS).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evalgate.errors import ConfigError
from evalgate.suite.load import Suite
from evalgate.systems.prompting import PreparedSystem, _render_answer
from evalgate.train.config import DataConfig, TrainConfig
from evalgate.util.jsonl import Dataset, load_jsonl
from evalgate.util.overlap import exact_overlap, holdout_split, near_duplicates
from evalgate.util.templates import placeholders, render

Message = dict[str, str]
IGNORE = -100  # label of tokens without loss (PyTorch's cross-entropy ignore_index)


@dataclass(frozen=True)
class TrainExample:
    """One training row: the conversation to learn (prompt turns + the gold answer turn)."""

    id: str
    conversation: tuple[Message, ...]
    row: dict[str, Any]
    text: str  # what the overlap guard compares with held-out inputs

    @property
    def prompt(self) -> list[Message]:
        return list(self.conversation[:-1])

    @property
    def answer(self) -> str:
        return self.conversation[-1]["content"]


@dataclass(frozen=True)
class TrainingPool:
    """The pinned pool, split into members (trained on) and non-members (never seen)."""

    dataset: Dataset
    examples: dict[str, TrainExample]
    members: tuple[str, ...]
    non_members: tuple[str, ...]
    excluded: tuple[str, ...]

    def member_examples(self) -> list[TrainExample]:
        return [self.examples[i] for i in self.members]


def load_pool(config: TrainConfig, config_path: Path, prepared: PreparedSystem) -> TrainingPool:
    """Load and pin the pool, build every conversation, split off the non-members."""
    data = config.data
    path = config_path.parent / data.path
    if data.sha256 is None:
        from evalgate.util.files import sha256_file

        actual = sha256_file(path) if path.is_file() else "<sha256 of the data file>"
        raise ConfigError("the training data is not pinned", path=config_path, key="data.sha256",
                          fix=f"add `sha256: {actual}` under `data:` so it cannot change silently")
    required = (["messages"] if data.format == "messages"
                else sorted({*placeholders(data.input), *placeholders(data.target)}))
    dataset = load_jsonl(path, id_field=data.id_field, required=required,
                         expected_sha256=data.sha256, pin_key="data.sha256",
                         pinned_by=config_path)
    unknown = sorted(set(data.exclude) - set(dataset.ids()))
    if unknown:
        raise ConfigError(f"excluded ids not in {path.name}: {', '.join(unknown[:10])}",
                          path=config_path, key="data.exclude", fix="list ids of the data file")
    examples = {}
    for index, row in enumerate(dataset.examples):  # errors name the file line, not the index
        example = build_example(row, data, prepared, path, dataset.line_of(index))
        if example.id not in data.exclude:
            examples[example.id] = example
    seed = config.holdout.seed if config.holdout.seed is not None else config.seed
    members, non_members = holdout_split(list(examples), config.holdout.fraction, seed)
    if not members:
        raise ConfigError("no training rows left after the holdout", path=config_path,
                          key="holdout.fraction", fix="lower the fraction or add rows")
    return TrainingPool(dataset, examples, tuple(members), tuple(non_members),
                        tuple(data.exclude))


def build_example(row: dict[str, Any], data: DataConfig, prepared: PreparedSystem, path: Path,
                  line: int | None) -> TrainExample:
    example_id = str(row[data.id_field])
    if data.format == "fields":
        input_text = render(data.input, row)
        prompt = prepared.build(input_text).messages
        answer = _render_answer(data.target, row)
        if not answer.strip():
            raise ConfigError(f"row '{example_id}' renders an empty answer", path=path, line=line,
                              fix="give every row a non-empty target")
        return TrainExample(example_id, (*prompt, {"role": "assistant", "content": answer}),
                            row, input_text)
    messages = _check_messages(row.get("messages"), path, line, answer_last=True)
    text = "\n".join(m["content"] for m in messages if m["role"] == "user")
    return TrainExample(example_id, tuple(messages), row, text)


def _check_messages(messages: Any, path: Path, line: int | None, *,
                    answer_last: bool) -> list[Message]:
    fix = ('write `"messages": [{"role": "user", "content": "..."}, {"role": "assistant", '
           '"content": "..."}]`')
    if not isinstance(messages, list) or not messages:
        raise ConfigError("`messages` must be a non-empty list", path=path, line=line, fix=fix)
    for message in messages:
        if (not isinstance(message, dict) or message.get("role") not in
                {"system", "user", "assistant"} or not isinstance(message.get("content"), str)):
            raise ConfigError(f"malformed message {message!r}", path=path, line=line, fix=fix)
    last = messages[-1]["role"]
    if answer_last and last != "assistant":
        raise ConfigError("the conversation must end with the assistant's answer", path=path,
                          line=line, fix=fix)
    if not answer_last and last == "assistant":
        raise ConfigError("a pair's `messages` is the prompt: it must not end with an assistant "
                          "turn (the answers are `chosen` and `rejected`)", path=path, line=line,
                          fix="drop the final assistant turn")
    return [{"role": m["role"], "content": m["content"]} for m in messages]


# -- pairs from a file -----------------------------------------------------------------------


@dataclass(frozen=True)
class Pair:
    """A preference pair on one training prompt: the gold answer over a worse one."""

    id: str
    prompt: tuple[Message, ...]
    chosen: str
    rejected: str


def load_pair_file(path: Path, sha256: str | None, config: TrainConfig, config_path: Path,
                   prepared: PreparedSystem) -> tuple[Dataset, list[Pair], list[str]]:
    """Pairs from JSONL: id, the input fields (or `messages` for the prompt), chosen, rejected.
    Returns the dataset, the pairs and the overlap-guard texts."""
    if sha256 is None:
        from evalgate.util.files import sha256_file

        actual = sha256_file(path) if path.is_file() else "<sha256 of the pairs file>"
        raise ConfigError("the pairs file is not pinned", path=config_path, key="pairs.sha256",
                          fix=f"add `sha256: {actual}` under `pairs:`")
    data = config.data
    fields = ["messages"] if data.format == "messages" else placeholders(data.input)
    dataset = load_jsonl(path, id_field=data.id_field, required=[*fields, "chosen", "rejected"],
                         expected_sha256=sha256, pin_key="pairs.sha256", pinned_by=config_path)
    pairs, texts = [], []
    for index, row in enumerate(dataset.examples):
        line = dataset.line_of(index)  # the file line (blank lines are skipped, not counted)
        example_id = str(row[data.id_field])
        chosen, rejected = row["chosen"], row["rejected"]
        if not (isinstance(chosen, str) and isinstance(rejected, str)) or chosen == rejected:
            raise ConfigError("`chosen` and `rejected` must be two different strings", path=path,
                              line=line, fix="write the better answer as chosen, the worse as "
                                             "rejected")
        if data.format == "fields":
            text = render(data.input, row)
            prompt = prepared.build(text).messages
        else:
            prompt = _check_messages(row["messages"], path, line, answer_last=False)
            text = "\n".join(m["content"] for m in prompt if m["role"] == "user")
        pairs.append(Pair(example_id, tuple(prompt), chosen, rejected))
        texts.append(text)
    return dataset, pairs, texts


# -- guards ----------------------------------------------------------------------------------


def check_overlap(texts: Sequence[tuple[str, str]], suites: Sequence[Suite], config_path: Path,
                  what: str = "training data") -> None:
    """Refuse training text equal to (after normalisation) or a near-duplicate of (word 8-gram
    containment) any suite's held-out input, naming the ids on both sides."""
    found: list[str] = []
    for suite in suites:
        held_out = suite.held_out_texts()
        exact = exact_overlap(texts, held_out)
        found += [f"{left} = {suite.name}:{right} (same text)" for left, right in exact]
        same = set(exact)
        found += [f"{d.left_id} ≈ {suite.name}:{d.right_id} ({d.containment:.0%} of 8-grams)"
                  for d in near_duplicates(texts, held_out)
                  if (d.left_id, d.right_id) not in same]
    if found:
        shown = "\n    ".join(found[:12]) + (f"\n    … and {len(found) - 12} more"
                                              if len(found) > 12 else "")
        left_ids = sorted({item.split(" ", 1)[0] for item in found})
        raise ConfigError(
            f"the {what} overlaps held-out suite data ({len(found)} pair(s)):\n    {shown}",
            path=config_path, key="data",
            fix="remove these rows from the training data, or leave them out with "
                f"`data.exclude: [{', '.join(left_ids[:8])}{', …' if len(left_ids) > 8 else ''}]`"
                " (a model must never train on what it is judged on)")


def check_criteria_fields(pool: TrainingPool, suite: Suite, config_path: Path) -> None:
    """Auto pairs score outputs with the suite's criteria, which read reference fields."""
    fields = sorted({getattr(c, "reference") for c in suite.config.criteria
                     if hasattr(c, "reference")})
    for example in pool.examples.values():
        missing = [f for f in fields if f not in example.row]
        if missing:
            raise ConfigError(
                f"row '{example.id}' lacks {', '.join(missing)}, which the criteria of suite "
                f"'{suite.name}' read to decide whether an output fails",
                path=config_path, key="pairs",
                fix="add the reference fields to every row, or use `pairs: {source: file}`")
