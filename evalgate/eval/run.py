"""Evaluate one system on one suite: render prompts, reuse the cache, generate the rest in
batches, score, and write a run record.

The model is loaded only when the cache misses, so re-running an unchanged pair costs the time
to render prompts and read SQLite, not the time to load a model.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.progress import Progress

from evalgate import __version__
from evalgate.eval.cache import Cache, CachedGeneration
from evalgate.eval.lengths import model_window
from evalgate.eval.records import (
    CriterionResult,
    ExampleRecord,
    RunRecord,
    limit_summary,
    record_path,
)
from evalgate.metrics.base import ExampleScore
from evalgate.models.chat import render_chat
from evalgate.models.engine import ENGINE_VERSION, Engine, GenerationParams, engine_for
from evalgate.models.loading import load_model, load_tokenizer, model_settings
from evalgate.models.resolve import ResolvedModel, default_cache_dir, resolve_model
from evalgate.project.config import Project
from evalgate.stats import estimate_mean
from evalgate.suite.load import Suite
from evalgate.systems.backends import Backend, build_backend
from evalgate.systems.prompting import PreparedSystem, Prompt, System
from evalgate.util.clock import utc_now
from evalgate.util.files import sha256_json, sha256_text
from evalgate.util.paths import display_path

SCORER_VERSION = "1"


@dataclass(frozen=True)
class RunOutcome:
    record: RunRecord
    path: Path
    cache_hits: int
    cache_misses: int
    seconds: float


class ModelPool:
    """Loads each (model, adapter) once per process and only when a cache miss needs it."""

    def __init__(self, project: Project, progress: Progress | None = None) -> None:
        self.project = project
        self.progress = progress
        self._resolved: dict[str, ResolvedModel] = {}
        self._tokenizers: dict[str, Any] = {}
        self._engines: dict[tuple[str, str | None], Engine] = {}
        self.settings = model_settings(project.config.model)

    def resolved(self, ref: str) -> ResolvedModel:
        ref = self.project.resolve_model_ref(ref)
        if ref not in self._resolved:
            self._resolved[ref] = resolve_model(ref, default_cache_dir(), progress=self.progress)
        return self._resolved[ref]

    def tokenizer(self, resolved: ResolvedModel):
        key = str(resolved.path)
        if key not in self._tokenizers:
            self._tokenizers[key] = load_tokenizer(resolved.path)
        return self._tokenizers[key]

    def window(self, resolved: ResolvedModel) -> int | None:
        """The model's context window, read from its config (no weights loaded)."""
        return model_window(resolved.path)

    def backend(self, system: System) -> Backend:
        """The backend `system` names (evalgate.systems.backends), built on this pool."""
        return build_backend(system, self)

    def engine(self, resolved: ResolvedModel, adapter: Path | None) -> Engine:
        key = (str(resolved.path), str(adapter) if adapter else None)
        if key not in self._engines:
            task = None
            if self.progress is not None:
                task = self.progress.add_task(f"loading {resolved.ref}", total=None, info="")
            loaded = load_model(resolved, self.settings, adapter)
            if task is not None:
                self.progress.update(task, total=1, completed=1,
                                     info=f"{loaded.dtype} on {loaded.device}")
            self._engines[key] = engine_for(loaded, self.project.config.engine)
        return self._engines[key]


# The evaluation path's name for the one chat renderer (evalgate.models.chat), kept importable.
render_prompt = render_chat


def fitted_prompts(suite: Suite, prepared: PreparedSystem, backend: Backend,
                   max_new_tokens: int) -> tuple[list[Prompt], list[str], dict[int, Any]]:
    """Every example's prompt as the backend renders it, checked against the model's window
    before any model loads (`on_long_input`: refused with a ConfigError, or cut): the built
    prompts, their rendered texts, and the cuts by example index. `evalgate check` runs this
    very function, so a prompt it passes is one `eval` accepts."""
    inputs = [suite.render_input(ex) for ex in suite.dataset.examples]
    built = [prepared.build(text) for text in inputs]
    prompts = [backend.render(item.messages) for item in built]

    def rebuild(index: int, text: str) -> str:
        built[index] = prepared.build(text)
        return backend.render(built[index].messages)

    cuts = backend.fit(suite, inputs, prompts, rebuild, max_new_tokens)
    return built, prompts, {t.index: t for t in cuts}


def evaluate(suite: Suite, system: System, pool: ModelPool, progress: Progress | None = None,
             prepared: PreparedSystem | None = None) -> RunOutcome:
    """Run (or fetch from the cache) `system` on every example of `suite`; write the record.

    `prepared` is the system already bound to this suite (pools and indexes built), if the
    caller validated it up front."""
    started = time.perf_counter()
    project = pool.project
    backend = pool.backend(system)
    params = GenerationParams(max_new_tokens=suite.config.generation.max_new_tokens,
                              stop=tuple(suite.config.generation.stop))
    prepared = prepared or system.prepare(suite)
    # Everything that shapes an output besides the prompt: the backend's identity (weights,
    # adapter and dtype, or base URL and served model id), the recipe, the generation settings.
    identity = {**backend.identity(), "system": prepared.config_sha256,
                "generation": sha256_json(params.__dict__)}

    examples = suite.dataset.examples
    ids = suite.dataset.ids()
    built, prompts, truncated = fitted_prompts(suite, prepared, backend, params.max_new_tokens)
    keys = [sha256_json({**identity, "prompt": sha256_text(p)}) for p in prompts]

    with Cache.open(project.cache_path) as cache:
        cached = cache.get_generations(keys)
        missing = [i for i, key in enumerate(keys) if key not in cached]
        unique_missing = list(dict.fromkeys(keys[i] for i in missing))
        generations = dict(cached)
        if unique_missing:
            first_index = {keys[i]: i for i in reversed(missing)}
            todo = [prompts[first_index[key]] for key in unique_missing]
            task = None
            if progress is not None:
                task = progress.add_task(f"generating {system.name} × {suite.name}",
                                         total=len(todo), info="")
            gen_started = time.perf_counter()

            def advance(count: int) -> None:
                if task is not None:
                    progress.advance(task, count)

            fresh: dict[str, CachedGeneration] = {}
            unsaved: list[str] = []
            saved_at = time.monotonic()

            def save() -> None:
                nonlocal saved_at
                if not unsaved:
                    return
                cache.put_generations((key, fresh[key]) for key in unsaved)
                unsaved.clear()
                saved_at = time.monotonic()

            def keep(index: int, out: Any) -> None:
                # Saved as they finish (every 32 rows or 20 s): Ctrl-C or a crash loses only
                # the rows still running, and the next run picks up from the cache.
                key = unique_missing[index]
                fresh[key] = CachedGeneration(out.text, out.prompt_tokens, out.new_tokens,
                                              out.finish_reason)
                unsaved.append(key)
                if len(unsaved) >= 32 or time.monotonic() - saved_at > 20:
                    save()

            try:
                outputs = backend.generate(todo, params, on_done=advance, on_result=keep)
            finally:
                save()
            new_tokens = sum(out.new_tokens for out in outputs)
            if task is not None:
                rate = new_tokens / max(time.perf_counter() - gen_started, 1e-9)
                progress.update(task, info=f"{rate:.0f} tok/s")
            generations.update(fresh)

        scores = _score_all(suite, examples, keys, generations, cache, progress)

    criteria = []
    for criterion in suite.config.criteria:
        metric = suite.metrics[criterion.name]
        per_example = scores[criterion.name]
        estimate = estimate_mean([s.value for s in per_example], metric.binary)
        criteria.append(CriterionResult(
            name=criterion.name, metric=criterion.metric, value=estimate.value,
            low=estimate.low, high=estimate.high, n=estimate.n, interval=estimate.method,
            bound=criterion.bound_text(),
            status=criterion.decide(estimate.low, estimate.high).value,
            summary=metric.summarize(per_example)))

    example_records = []
    for index, example_id in enumerate(ids):
        generation = generations[keys[index]]
        example_records.append(ExampleRecord(
            id=example_id, output=generation.output, prompt_tokens=generation.prompt_tokens,
            new_tokens=generation.new_tokens, finish_reason=generation.finish_reason,
            cached=keys[index] in cached,
            scores={name: s[index].value for name, s in scores.items()},
            details={name: dict(s[index].details) for name, s in scores.items()
                     if s[index].details},
            retrieved=built[index].retrieved,
            truncated_from=truncated[index].before if index in truncated else None))
    retrieval, warnings = _retrieval_summary(suite, prepared, built, ids)
    # From each output's finish reason (kept in the cache), so a fully cached run warns too.
    stopped = limit_summary(example_records)
    suite_path = display_path(suite.path, project.root)
    if stopped["count"]:
        warnings.append(_limit_warning(stopped, len(example_records), params.max_new_tokens,
                                       suite.name, suite_path))
    if truncated:
        warnings.append(f"{len(truncated)} of {len(examples)} inputs were cut to fit the model's "
                        f"window (on_long_input: truncate in {suite_path}); each is marked "
                        "`truncated_from` in the run record")

    run_key = sha256_json({**identity, "suite": suite.config_sha256, "scorer": SCORER_VERSION})
    adapter = system.adapter_path
    hits = sum(key in cached for key in keys)
    seconds = time.perf_counter() - started
    record = RunRecord(
        run_key=run_key,
        created_at=utc_now(),
        evalgate_version=__version__,
        engine_version=ENGINE_VERSION,
        suite={"name": suite.name, "path": suite_path,
               "config_sha256": suite.config_sha256, "data_sha256": suite.dataset.sha256,
               "n": len(examples)},
        system={"name": system.name, "kind": system.config.kind,
                "path": display_path(system.path, project.root) if system.path else None,
                "config_sha256": prepared.config_sha256,
                "adapter": display_path(adapter, project.root) if adapter else None,
                "adapter_sha256": identity.get("adapter"), "backend": backend.kind},
        model=backend.describe(),
        generation={"max_new_tokens": params.max_new_tokens, "stop": list(params.stop),
                    "greedy": True, "stopped_at_limit": stopped},
        criteria=tuple(criteria),
        examples=tuple(example_records),
        retrieval=retrieval,
        warnings=tuple(warnings),
        stats={"cache_hits": hits, "cache_misses": len(keys) - hits, "truncated": len(truncated),
               "new_tokens": sum(generations[k].new_tokens for k in unique_missing),
               "seconds": round(seconds, 3)},
    )
    path = record_path(project.reports_dir, suite.name, system.name, run_key)
    record.save(path)
    return RunOutcome(record, path, hits, len(keys) - hits, seconds)


def _score_all(suite: Suite, examples, keys: list[str], generations: dict[str, CachedGeneration],
               cache: Cache, progress: Progress | None) -> dict[str, list[ExampleScore]]:
    """Scores per criterion, from the cache where this output was already scored."""
    task = None
    if progress is not None:
        task = progress.add_task(f"scoring {suite.name}", total=len(suite.config.criteria),
                                 info="")
    results: dict[str, list[ExampleScore]] = {}
    for criterion in suite.config.criteria:
        metric = suite.metrics[criterion.name]
        # A score depends on the output and on the example (its reference), so it is keyed by
        # generation, example id and the data hash as well as by the criterion's fingerprint.
        criterion_key = sha256_json({"criterion": suite.fingerprints[criterion.name],
                                     "scorer": SCORER_VERSION, "data": suite.dataset.sha256})
        score_keys = [sha256_text(f"{key}\0{example[suite.config.id_field]}")
                      for key, example in zip(keys, examples)]
        stored = cache.get_scores(criterion_key, score_keys)
        scores: list[ExampleScore] = []
        fresh: dict[str, Any] = {}
        for example, key, score_key in zip(examples, keys, score_keys):
            if score_key in stored:
                scores.append(ExampleScore.from_json(stored[score_key]))
                continue
            score = metric.score(example, generations[key].output)
            fresh[score_key] = score.to_json()
            scores.append(score)
        cache.put_scores(criterion_key, fresh.items())
        results[criterion.name] = scores
        if task is not None:
            progress.advance(task)
    return results


def _retrieval_summary(suite: Suite, prepared: PreparedSystem, built: list[Prompt],
                       ids: list[str]) -> tuple[dict[str, Any], list[str]]:
    """Recall@k against the suite's gold documents, and a warning for every example whose
    retriever found nothing (its prompt said so instead of carrying a silent empty context)."""
    if not prepared.retrieves:
        return {}, []
    config = prepared.template.retrieval
    summary: dict[str, Any] = {"method": config.method, "k": config.k,
                               "chunks": len(prepared.chunks)}
    warnings = []
    empty = [example_id for example_id, item in zip(ids, built) if not item.retrieved]
    if empty:
        shown = ", ".join(empty[:8]) + (" …" if len(empty) > 8 else "")
        warnings.append(f"retrieval found no passage for {len(empty)} of {len(ids)} examples "
                        f"({shown}); their prompts said so")
    field_name = suite.config.gold_doc_field
    if field_name:
        hits = []
        for example, item in zip(suite.dataset.examples, built):
            gold = example[field_name]
            gold_docs = set(gold) if isinstance(gold, list) else {gold}
            retrieved_docs = {chunk_id.rsplit("#", 1)[0] for chunk_id in item.retrieved}
            hits.append(float(bool(gold_docs & retrieved_docs)))
        estimate = estimate_mean(hits, binary=True)
        summary.update(recall_at_k=estimate.value, recall_low=estimate.low,
                       recall_high=estimate.high, n=estimate.n)
    return summary, warnings


def _limit_warning(stopped: dict[str, Any], n: int, max_new_tokens: int, suite: str,
                   suite_path: str) -> str:
    return (f"{stopped['count']} of {n} outputs ({stopped['share']:.1%}) stopped at "
            f"max_new_tokens={max_new_tokens} in suite {suite} — answers may be cut off; raise "
            f"`generation.max_new_tokens` in {suite_path}")
