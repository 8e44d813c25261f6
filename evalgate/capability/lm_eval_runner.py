"""MMLU through lm-eval (EleutherAI's harness), the reference the built-in scorer must agree with.

A real integration through lm-eval's Python API (0.4.x: `TaskManager.load`, `simple_evaluate`),
fully offline. The selected subset is written to a local JSONL file and a task config is
generated at run time that mirrors the standard `mmlu` task (lm_eval/tasks/mmlu/default:
`doc_to_text`, choices "A".."D" with the default target delimiter " ", `doc_to_target: answer`,
metric `acc`) with `dataset_path: json` and `dataset_kwargs.data_files` pointing at that file.
One task covers every subject: the description is a template over the document's `subject` (and,
for k-shot, its pre-rendered examples), which yields the prompt lm-eval's per-subject tasks
build, byte for byte. The model is lm-eval's own Hugging Face class (`hf`, `pretrained=` a local
folder, `peft=` an adapter folder, a dtype and a fixed batch size: never `auto`, which probes
memory and was killed at 23 GiB on the reference machine).

Per-question predictions come back from lm-eval's logged samples, as the same `QuestionScore`s
the built-in scorer returns, so agreement is one comparison. The task loads before the model,
so a task that cannot load offline fails in seconds with a ConfigError saying what to change.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evalgate.capability.data import CONTINUATIONS, LETTERS, Subset, question_block
from evalgate.capability.score import MMLUScores, QuestionScore, question_score
from evalgate.errors import ConfigError, RunError
from evalgate.util.files import atomic_write_text

TASK_NAME = "evalgate_mmlu"
# Key `evaluate` adds to lm-eval's results: seconds inside simple_evaluate with the model built,
# i.e. scoring without the imports, task loading and model loading before it.
SCORE_SECONDS = "evalgate_score_seconds"
# lm-eval mmlu's doc_to_text, verbatim (lm_eval/tasks/mmlu/default/_default_template_yaml).
DOC_TO_TEXT = ("{{question.strip()}}\nA. {{choices[0]}}\nB. {{choices[1]}}\nC. {{choices[2]}}"
               "\nD. {{choices[3]}}\nAnswer:")
# lm-eval mmlu's per-subject description with the subject from the document; `shots` is empty
# for zero-shot, else the k examples as lm-eval's few-shot context renders them.
DESCRIPTION = ("The following are multiple choice questions (with answers) about {{subject}}."
               "\n\n{{shots}}")
_OFFLINE_ENV = ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE")
_OFFLINE_FIX = ("point the task at local files (`dataset_path: json` with "
                "`dataset_kwargs: {data_files: {test: FILE.jsonl}}`), or fill the Hugging Face "
                "datasets cache (HF_DATASETS_CACHE) with the task's data on a machine that has "
                "the network and copy it here")


@dataclass(frozen=True)
class LMEvalSettings:
    """How lm-eval runs the model: a fixed batch size (never `auto`), dtype and device."""

    batch_size: int = 8
    dtype: str = "float32"
    device: str = "cpu"

    def __post_init__(self) -> None:
        if not isinstance(self.batch_size, int) or self.batch_size < 1:
            raise ConfigError(f"batch_size must be a positive integer, not {self.batch_size!r}",
                              key="batch_size",
                              fix="use e.g. 8 (lm-eval's `auto` probes memory: not used here)")


@dataclass(frozen=True)
class LMEvalRun:
    """What lm-eval reported: its accuracy, per-question scores and the prompts it built."""

    task: str
    accuracy: float
    scores: MMLUScores
    prompts: dict[str, str]  # question id → lm-eval's context
    seconds: float  # everything: imports, task and model loading, scoring
    score_seconds: float  # simple_evaluate alone, the model already built


def task_config(data_file: Path, cache_dir: Path) -> dict[str, Any]:
    """The generated task: lm-eval's mmlu prompt over a local JSONL file of documents."""
    return {
        "task": TASK_NAME,
        "dataset_path": "json",
        "dataset_kwargs": {"data_files": {"test": str(data_file)}, "cache_dir": str(cache_dir)},
        "test_split": "test",
        "output_type": "multiple_choice",
        "description": DESCRIPTION,
        "doc_to_text": DOC_TO_TEXT,
        "doc_to_choice": list(LETTERS),
        "doc_to_target": "answer",
        "target_delimiter": " ",
        "num_fewshot": 0,  # shots, when asked for, are part of each document's description
        "metric_list": [{"metric": "acc", "aggregation": "mean", "higher_is_better": True}],
        "metadata": {"version": 1.0},
    }


def write_documents(subset: Subset, path: Path) -> None:
    """The subset as lm-eval documents (Hugging Face MMLU fields plus `id` and `shots`)."""
    lines = []
    for q in subset.questions:
        shots = "".join(f"{question_block(s)} {s.answer_letter}\n\n"
                        for s in subset.shots.get(q.subject, ()))
        lines.append(json.dumps({"id": q.id, "subject": q.subject, "question": q.question,
                                 "choices": list(q.choices), "answer": q.answer,
                                 "shots": shots}, ensure_ascii=False))
    atomic_write_text(path, "\n".join(lines) + "\n")


def run_mmlu(
    subset: Subset,
    model_path: str | Path,
    *,
    adapter: str | Path | None = None,
    settings: LMEvalSettings | None = None,
    workdir: Path | None = None,
) -> LMEvalRun:
    """Evaluate `subset` with lm-eval's `hf` model (plus `adapter`), offline."""
    settings = settings or LMEvalSettings()
    with _workdir(workdir) as folder:
        data_file = folder / "mmlu.jsonl"
        write_documents(subset, data_file)
        start = time.perf_counter()
        results = evaluate(task_config(data_file, folder / "datasets-cache"), model_path,
                           adapter=adapter, settings=settings)
        seconds = time.perf_counter() - start
    samples = results.get("samples", {}).get(TASK_NAME)
    if not samples:
        raise RunError("lm-eval returned no per-question samples for the MMLU task")
    by_id = {q.id: q for q in subset.questions}
    scores: list[QuestionScore] = []
    prompts: dict[str, str] = {}
    for sample in sorted(samples, key=lambda s: s["doc_id"]):
        doc = sample["doc"]
        question = by_id[doc["id"]]
        arguments = [tuple(a) for a in sample["arguments"]]
        if [a[1] for a in arguments] != list(CONTINUATIONS):
            raise RunError(f"lm-eval scored {[a[1] for a in arguments]} for {question.id}, "
                           f"expected {list(CONTINUATIONS)}")
        prompts[question.id] = arguments[0][0]
        logprobs = [float(_loglikelihood(r)) for r in sample["filtered_resps"]]
        scores.append(question_score(question.id, question.subject, question.answer, logprobs))
    accuracy = float(results["results"][TASK_NAME]["acc,none"])
    return LMEvalRun(
        task=TASK_NAME,
        accuracy=accuracy,
        scores=MMLUScores(pin=subset.pin, dtype=settings.dtype,
                          model_identity=f"lm-eval:hf:{model_path}",
                          adapter_hash=str(adapter) if adapter is not None else None,
                          scores=tuple(scores), seconds=seconds),
        prompts=prompts,
        seconds=seconds,
        score_seconds=float(results[SCORE_SECONDS]),
    )


def evaluate(task: str | dict[str, Any], model_path: str | Path, *,
             adapter: str | Path | None = None,
             settings: LMEvalSettings | None = None,
             include_path: Path | None = None, limit: int | None = None) -> dict[str, Any]:
    """lm-eval's `simple_evaluate` on one task (a registered name or a config dict) with its `hf`
    model, offline, with per-sample logs. The task is loaded first: a task whose data cannot be
    reached offline is a ConfigError before any model loads."""
    settings = settings or LMEvalSettings()
    model_args: dict[str, Any] = {"pretrained": str(model_path), "dtype": settings.dtype}
    if adapter is not None:
        model_args["peft"] = str(adapter)
    with offline(), _quiet_lm_eval():
        from lm_eval import simple_evaluate

        manager, loaded = load_task(task, include_path=include_path)
        try:
            # The model is built here rather than by name inside simple_evaluate (the same call
            # lm-eval makes), so the time spent scoring can be told apart from the set-up.
            from lm_eval.api.registry import get_model

            lm = get_model("hf").create_from_arg_obj(
                model_args, {"batch_size": settings.batch_size, "device": settings.device})
            start = time.perf_counter()
            results = simple_evaluate(
                model=lm, tasks=list(loaded.values()),
                task_manager=manager, batch_size=settings.batch_size, device=settings.device,
                limit=limit,
                bootstrap_iters=0, log_samples=True, random_seed=None, numpy_random_seed=None,
                torch_random_seed=None,
            )
            score_seconds = time.perf_counter() - start
        except (OSError, ValueError, RuntimeError, ImportError) as error:
            raise RunError(f"lm-eval failed on {_task_label(task)} with model {model_path}"
                           f"{' + adapter ' + str(adapter) if adapter else ''}: "
                           f"{type(error).__name__}: {error}") from error
    if results is None:
        raise RunError("lm-eval returned no results (not rank 0?)")
    results[SCORE_SECONDS] = score_seconds
    return results


def load_task(task: str | dict[str, Any], include_path: Path | None = None
              ) -> tuple[Any, dict[str, Any]]:
    """(TaskManager, {name: Task}) for a registered task name or a config dict, its data loaded
    offline now; anything that cannot load is a ConfigError naming the task and the fix."""
    from lm_eval.tasks import TaskManager

    label = _task_label(task)
    with offline():
        try:
            # A generated config needs none of lm-eval's ~10k bundled YAML files indexed.
            manager = TaskManager(include_defaults=isinstance(task, str),
                                  include_path=str(include_path) if include_path else None)
            loaded = manager.load([task])["tasks"]
        except KeyError as error:
            raise ConfigError(f"lm-eval has no task {label}", key="task",
                              fix="use a task name from `lm_eval ls tasks`, or a task config "
                                  "with local data") from error
        except (OSError, ValueError, ImportError, TypeError) as error:
            raise ConfigError(f"the lm-eval task {label} cannot load its data offline: "
                              f"{type(error).__name__}: {_first_line(error)}", key="task",
                              fix=_OFFLINE_FIX) from error
    if not loaded:
        raise ConfigError(f"the lm-eval task {label} has no subtasks", key="task",
                          fix="name a task, not an empty group")
    return manager, loaded


def run_task_items(task: str, model_path: str | Path, *, include_path: Path | None,
                   limit: int | None, adapter: str | Path | None = None,
                   settings: LMEvalSettings | None = None) -> dict[str, list[float]]:
    """Per item id (`{task}/{doc_id}`, as evalgate.capability.items names them) the choices'
    log-likelihoods lm-eval computed for an lm-eval multiple-choice task."""
    results = evaluate(task, model_path, adapter=adapter, settings=settings,
                       include_path=include_path, limit=limit)
    found: dict[str, list[float]] = {}
    for name, samples in results.get("samples", {}).items():
        for sample in samples:
            found[f"{name}/{sample['doc_id']}"] = [float(_loglikelihood(r))
                                                   for r in sample["filtered_resps"]]
    if not found:
        raise RunError(f"lm-eval returned no per-document samples for task {task!r}")
    return found


@contextmanager
def offline() -> Iterator[None]:
    """No network for the Hugging Face libraries inside: the environment variables for code that
    imports them now, and their flags where they were imported before (both read them once)."""
    saved_env = {name: os.environ.get(name) for name in _OFFLINE_ENV}
    os.environ.update({name: "1" for name in _OFFLINE_ENV})
    saved_flags: list[tuple[Any, str, Any]] = []
    for module_name, attribute in (("huggingface_hub.constants", "HF_HUB_OFFLINE"),
                                   ("datasets.config", "HF_HUB_OFFLINE"),
                                   ("datasets.config", "HF_DATASETS_OFFLINE")):
        module = sys.modules.get(module_name)
        if module is not None and hasattr(module, attribute):
            saved_flags.append((module, attribute, getattr(module, attribute)))
            setattr(module, attribute, True)
    try:
        yield
    finally:
        for module, attribute, value in reversed(saved_flags):
            setattr(module, attribute, value)
        for name, value in saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextmanager
def _quiet_lm_eval() -> Iterator[None]:
    """lm-eval logs every setting at INFO/WARNING (e.g. "appears to be an instruct variant");
    none of it is for evalgate's users. Errors still show."""
    from evalgate.util.quiet import quiet_libraries

    quiet_libraries()
    logger = logging.getLogger("lm_eval")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


@contextmanager
def _workdir(folder: Path | None) -> Iterator[Path]:
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
        yield folder
        return
    with tempfile.TemporaryDirectory(prefix="evalgate-lm-eval-") as name:
        yield Path(name)


def _loglikelihood(response: Any) -> float:
    """A loglikelihood response: (log-likelihood, is_greedy), possibly wrapped in a list."""
    while isinstance(response, (list, tuple)) and response and isinstance(
            response[0], (list, tuple)):
        response = response[0]
    return float(response[0] if isinstance(response, (list, tuple)) else response)


def _task_label(task: str | dict[str, Any]) -> str:
    if isinstance(task, str):
        return repr(task)
    path = task.get("dataset_path")
    return f"{task.get('task', '?')!r} (dataset_path {path!r})"


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
