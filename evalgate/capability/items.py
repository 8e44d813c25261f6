"""Multiple-choice items: what a capability suite scores, whatever the benchmark.

An item is one question with its choices already written as (context, continuation) requests
and the gold choice's index; the built-in scorer asks the engine for each request's
log-likelihood and lm-eval asks its own model for the same requests. Two sources:

- MMLU (evalgate.capability.data): lm-eval's `mmlu` prompt over the pinned subset, four
  continuations " A".." D" after one context;
- any lm-eval `multiple_choice` task by name (`questions.task`), its requests built by lm-eval
  itself (`Task.build_all_requests`), offline: the task's data must be local (a task folder
  with `dataset_path: json`) or already in the Hugging Face datasets cache.

Either way the items are pinned by a hash of their requests and gold answers before any model
loads, so a task whose data or prompt changed is a changed criterion, not a silent one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evalgate.capability.data import CONTINUATIONS, Subset
from evalgate.errors import ConfigError
from evalgate.util.files import sha256_json


@dataclass(frozen=True)
class Item:
    """One multiple-choice question: `requests[j]` is choice j as (context, continuation)."""

    id: str
    subject: str
    answer: int
    requests: tuple[tuple[str, str], ...]

    @property
    def choices(self) -> int:
        return len(self.requests)

    def key_material(self) -> dict[str, Any]:
        """What the item's cached log-probs are keyed by (beside the model): one shared context
        is keyed as MMLU's always were (prompt and continuations), anything else by requests."""
        contexts = {context for context, _ in self.requests}
        if len(contexts) == 1:
            from evalgate.util.files import sha256_text

            return {"prompt": sha256_text(self.requests[0][0]),
                    "continuations": [c for _, c in self.requests]}
        return {"requests": sha256_json([list(r) for r in self.requests])}


def mmlu_items(subset: Subset) -> tuple[Item, ...]:
    return tuple(Item(id=q.id, subject=q.subject, answer=q.answer,
                      requests=tuple((subset.prompt(q), c) for c in CONTINUATIONS))
                 for q in subset.questions)


def items_pin(source: str, items: Sequence[Item]) -> str:
    return sha256_json({"source": source,
                        "items": [[i.id, i.answer, [list(r) for r in i.requests]]
                                  for i in items]})


def lm_eval_task_items(task: str, include_path: Path | None, limit: int | None,
                       suite_path: Path) -> tuple[Item, ...]:
    """The items of an lm-eval `multiple_choice` task (a name, or a group of them), with the
    requests lm-eval itself builds; a task that cannot load offline or is not multiple-choice
    is a ConfigError naming the suite's key."""
    from evalgate.capability.lm_eval_runner import _quiet_lm_eval, load_task, offline

    with offline(), _quiet_lm_eval():
        try:
            _, loaded = load_task(task, include_path=include_path)
        except ConfigError as error:
            raise ConfigError(error.message, path=suite_path, key="questions.task",
                              fix=error.fix) from error
        items: list[Item] = []
        for name, task_object in _leaves(loaded):
            if getattr(task_object, "OUTPUT_TYPE", None) != "multiple_choice":
                raise ConfigError(
                    f"lm-eval task '{name}' is {getattr(task_object, 'OUTPUT_TYPE', '?')}, not "
                    "multiple_choice", path=suite_path, key="questions.task",
                    fix="name a multiple-choice task (answers scored by log-likelihood)")
            task_object.build_all_requests(limit=limit, rank=0, world_size=1)
            by_doc: dict[int, list[Any]] = {}
            for instance in task_object.instances:
                by_doc.setdefault(instance.doc_id, []).append(instance)
            for doc_id in sorted(by_doc):
                instances = sorted(by_doc[doc_id], key=lambda i: i.idx)
                doc = instances[0].doc
                items.append(Item(id=f"{name}/{doc_id}", subject=name,
                                  answer=_gold(task_object, doc, len(instances), name, doc_id,
                                               suite_path),
                                  requests=tuple((str(i.arguments[0]), str(i.arguments[1]))
                                                 for i in instances)))
    if not items:
        raise ConfigError(f"lm-eval task '{task}' has no test documents", path=suite_path,
                          key="questions.task", fix="check the task's test split")
    return tuple(items)


def _leaves(loaded: Any) -> list[tuple[str, Any]]:
    """(name, Task) for every task in lm-eval's (possibly nested) task dictionary."""
    found: list[tuple[str, Any]] = []
    for key, value in loaded.items():
        if isinstance(value, dict):
            found += _leaves(value)
        else:
            found.append((getattr(key, "group_name", None) or str(key), value))
    return found


def _gold(task: Any, doc: dict, choices: int, name: str, doc_id: int, suite_path: Path) -> int:
    gold = task.doc_to_target(doc)
    if isinstance(gold, str):
        options = task.doc_to_choice(doc)
        gold = options.index(gold) if gold in options else -1
    if isinstance(gold, list) or not isinstance(gold, int) or not 0 <= gold < choices:
        raise ConfigError(f"lm-eval task '{name}', document {doc_id}: the gold answer {gold!r} "
                          f"is not one of its {choices} choices", path=suite_path,
                          key="questions.task",
                          fix="use a task with one gold choice index per document")
    return gold
