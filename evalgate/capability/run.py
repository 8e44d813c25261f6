"""A capability suite run: the base model and a candidate measured on the same questions and
text, every measurement cached per question and per document.

The base model is the candidate's own model with the adapter off, in the same dtype and
quantisation (the project's `model:` settings serve both), so any difference is the adapter's.
Measurements are keyed by everything that can change them (model weights identity, adapter
hash, dtype, quantisation, engine, prompt or text): the base model is scored once per question
and reused by every later candidate; a warm re-gate re-scores nothing and loads no model.

Each run is written as an ordinary run record (one example per question and per text document,
scores keyed by criterion), so the gate's pairing, verdicts, `recompute` and the reports read it
like any other suite's.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from evalgate import __version__
from evalgate.capability.items import Item
from evalgate.capability.suite import HIGHER_IS_BETTER, CapabilitySuite
from evalgate.errors import RunError
from evalgate.eval.cache import Cache
from evalgate.eval.records import CriterionResult, ExampleRecord, RunRecord, record_path
from evalgate.models.loading import adapter_identity
from evalgate.stats import estimate_mean
from evalgate.util.clock import utc_now
from evalgate.util.files import sha256_json, sha256_text
from evalgate.util.paths import display_path

BASE_SYSTEM = "base-model"  # the name of the base model's runs (its record, its table column)
SCORER_VERSION = "capability-3"  # 2: scoring batches cut by BatchPolicy.partition; 3: last
# layer computed for the last position only (engine.last_layer)


@dataclass(frozen=True)
class Measured:
    """One model's raw measurements on a suite: per question the choices' log-probs, per text
    document (sum of token NLL, tokens scored)."""

    choices: dict[str, tuple[float, ...]]
    texts: dict[str, tuple[float, int]]
    hits: int
    misses: int
    seconds: float


@dataclass(frozen=True)
class CapabilityRuns:
    """The base model's and the candidate's run records on one capability suite."""

    base: RunRecord
    base_path: Path
    candidate: RunRecord
    candidate_path: Path


def run_capability(suite: CapabilitySuite, candidate: Any, pool: Any,
                   progress: Any = None) -> CapabilityRuns:
    """Measure the base model and `candidate` (a System: its model plus its adapter) on
    `suite`, and write both run records."""
    project = pool.project
    ref = candidate.config.model or project.config.model.base
    resolved = pool.resolved(ref)
    adapter = candidate.adapter_path
    base = measure(suite, resolved, None, pool, progress, BASE_SYSTEM)
    cand = measure(suite, resolved, adapter, pool, progress, candidate.name)
    base_record = build_record(suite, BASE_SYSTEM, None, resolved, pool, base, base, None)
    cand_record = build_record(suite, candidate.name, adapter, resolved, pool, cand, base,
                               candidate)
    base_path = record_path(project.reports_dir, suite.name, BASE_SYSTEM, base_record.run_key)
    cand_path = record_path(project.reports_dir, suite.name, candidate.name, cand_record.run_key)
    base_record.save(base_path)
    cand_record.save(cand_path)
    return CapabilityRuns(base_record, base_path, cand_record, cand_path)


def identity(suite: CapabilitySuite, resolved: Any, adapter: Path | None, pool: Any) -> dict:
    adapter_ident = adapter_identity(adapter, pool.settings)
    if suite.config.engine != "built-in":  # lm-eval runs the adapter through peft, unmerged
        adapter_ident.pop("adapter_merged", None)
    return {"model": resolved.identity, **adapter_ident,
            "dtype": pool.settings.resolved_dtype(), "quantization": pool.settings.quantization,
            "engine": suite.config.engine, "scorer": SCORER_VERSION}


def measure(suite: CapabilitySuite, resolved: Any, adapter: Path | None, pool: Any,
            progress: Any, label: str) -> Measured:
    """The choices' log-probs of every question and the NLL of every text document under one
    model, from the cache where present; the model loads only for what is missing."""
    started = time.perf_counter()
    ident = identity(suite, resolved, adapter, pool)
    questions = list(suite.items) if suite.needs_questions else []
    documents = list(suite.text.documents) if suite.text is not None and suite.needs_text else []
    q_keys = {q.id: sha256_json({**ident, "kind": "choices", **q.key_material()})
              for q in questions}
    t_keys = {d.id: sha256_json({**ident, "kind": "text_nll", "text": sha256_text(d.text)})
              for d in documents}
    with Cache.open(pool.project.cache_path) as cache:
        stored = cache.get_measurements([*q_keys.values(), *t_keys.values()])
        missing_q = [q for q in questions if q_keys[q.id] not in stored]
        missing_t = [d for d in documents if t_keys[d.id] not in stored]
        if missing_q:
            found = _score_questions(suite, missing_q, resolved, adapter, pool, progress, label)
            cache.put_measurements("choices", [(q_keys[qid], list(v)) for qid, v in found.items()])
            stored.update({q_keys[qid]: list(v) for qid, v in found.items()})
        if missing_t:
            found_t = _score_texts(missing_t, resolved, adapter, pool, progress, label)
            cache.put_measurements("text_nll", [(t_keys[did], list(v))
                                                for did, v in found_t.items()])
            stored.update({t_keys[did]: list(v) for did, v in found_t.items()})
    misses = len(missing_q) + len(missing_t)
    return Measured(
        choices={q.id: tuple(float(v) for v in stored[q_keys[q.id]]) for q in questions},
        texts={d.id: (float(stored[t_keys[d.id]][0]), int(stored[t_keys[d.id]][1]))
               for d in documents},
        hits=len(questions) + len(documents) - misses, misses=misses,
        seconds=time.perf_counter() - started)


def _score_questions(suite: CapabilitySuite, items: list[Item], resolved: Any,
                     adapter: Path | None, pool: Any, progress: Any, label: str
                     ) -> dict[str, tuple[float, ...]]:
    if suite.config.engine == "lm-eval":
        return _score_with_lm_eval(suite, items, resolved, adapter, pool, progress, label)
    engine = pool.engine(resolved, adapter)
    task = _task(progress, f"scoring {label} × {suite.name} (questions)", len(items))
    return score_items(engine, items, on_done=_advance(progress, task))


def score_items(engine: Any, items: Sequence[Item], on_done: Any = None
                ) -> dict[str, tuple[float, ...]]:
    """Every choice's log-likelihood on the engine (one pass per distinct context); `on_done`
    counts finished items."""
    from evalgate.capability.score import _bos_text

    prefix = _bos_text(engine)
    requests = [(prefix + context, continuation) for item in items
                for context, continuation in item.requests]
    ends, total = [], 0
    for item in items:
        total += item.choices
        ends.append(total)
    counted = [0, 0]  # requests answered, items reported

    def done(n: int) -> None:
        counted[0] += n
        finished = sum(1 for end in ends[counted[1]:] if end <= counted[0])
        if finished and on_done is not None:
            on_done(finished)
        counted[1] += finished

    results = engine.loglikelihood(requests, on_done=done)
    found: dict[str, tuple[float, ...]] = {}
    start = 0
    for item, end in zip(items, ends):
        found[item.id] = tuple(float(results[j][0]) for j in range(start, end))
        start = end
    return found


def _score_with_lm_eval(suite: CapabilitySuite, items: list[Item], resolved: Any,
                        adapter: Path | None, pool: Any, progress: Any, label: str
                        ) -> dict[str, tuple[float, ...]]:
    from evalgate.capability.lm_eval_runner import LMEvalSettings, run_mmlu, run_task_items

    settings = LMEvalSettings(dtype=pool.settings.resolved_dtype(), device=_device(pool))
    task = _task(progress, f"lm-eval: {label} × {suite.name}", None)
    if suite.subset is not None:
        wanted = {item.id for item in items}
        subset = replace(suite.subset, questions=tuple(q for q in suite.subset.questions
                                                       if q.id in wanted))
        run = run_mmlu(subset, resolved.path, adapter=adapter, settings=settings)
        found = {s.id: s.logprobs for s in run.scores.scores}
    else:
        q = suite.config.questions
        include = (suite.path.parent / q.task_dir).resolve() if q.task_dir else None
        every = run_task_items(str(q.task), resolved.path, include_path=include, limit=q.limit,
                               adapter=adapter, settings=settings)
        found = {item.id: tuple(every[item.id]) for item in items if item.id in every}
        if len(found) != len(items):
            raise RunError(f"lm-eval scored {len(found)} of the {len(items)} documents of "
                           f"task {q.task}")
    _finish(progress, task, len(items))
    return found


def _score_texts(documents: Sequence[Any], resolved: Any, adapter: Path | None, pool: Any,
                 progress: Any, label: str) -> dict[str, tuple[float, int]]:
    engine = pool.engine(resolved, adapter)
    task = _task(progress, f"scoring {label} × general text", len(documents))
    logprobs = engine.token_logprobs([d.text for d in documents], on_done=_advance(progress, task))
    return {d.id: (-float(sum(values)), len(values)) for d, values in zip(documents, logprobs)}


def _device(pool: Any) -> str:
    from evalgate.models.loading import resolve_device

    return resolve_device(pool.settings.device)


# -- per-example signals ---------------------------------------------------------------------


def letter(index: int) -> str:
    return chr(ord("A") + index)


def log_softmax(values: Sequence[float]) -> list[float]:
    top = max(values)
    total = top + math.log(sum(math.exp(v - top) for v in values))
    return [v - total for v in values]


def answer_kl(base: Sequence[float], candidate: Sequence[float]) -> float:
    """KL(base ‖ candidate) of the answer distributions (softmax over the choices), in nats."""
    p, q = log_softmax(base), log_softmax(candidate)
    return max(0.0, sum(math.exp(lp) * (lp - lq) for lp, lq in zip(p, q)))


def predicted(values: Sequence[float]) -> int:
    """The argmax choice; ties go to the first (numpy's argmax, as lm-eval)."""
    return max(range(len(values)), key=lambda j: (values[j], -j))


def question_signals(question: Item, own: Sequence[float], base: Sequence[float]
                     ) -> dict[str, float]:
    mine, theirs = predicted(own), predicted(base)
    return {"accuracy": float(mine == question.answer),
            "gold_logprob": log_softmax(own)[question.answer],
            "agreement": float(mine == theirs),
            "answer_kl": answer_kl(base, own)}


def build_record(suite: CapabilitySuite, name: str, adapter: Path | None, resolved: Any,
                 pool: Any, own: Measured, base: Measured, system: Any) -> RunRecord:
    """A run record of one model on the suite: per example the signals its criteria name
    (questions carry the question signals, documents `log_perplexity`)."""
    project = pool.project
    by_signal: dict[str, list[str]] = {}
    for criterion in suite.config.criteria:
        by_signal.setdefault(criterion.metric, []).append(criterion.name)
    examples: list[ExampleRecord] = []
    for q in suite.items if suite.needs_questions else ():
        values = own.choices[q.id]
        signals = question_signals(q, values, base.choices[q.id])
        examples.append(ExampleRecord(
            id=q.id, output=letter(predicted(values)), prompt_tokens=0, new_tokens=0,
            finish_reason="scored", cached=False,
            scores={n: signals[s] for s, names in by_signal.items() if s in signals
                    for n in names},
            details={"subject": q.subject, "gold": letter(q.answer),
                     "choice_logprobs": [round(v, 6) for v in values]}))
    for document in suite.text.documents if suite.text is not None and suite.needs_text else ():
        nll, tokens = own.texts[document.id]
        examples.append(ExampleRecord(
            id=f"text:{document.id}", output="", prompt_tokens=tokens, new_tokens=0,
            finish_reason="scored", cached=False,
            scores={n: nll / max(tokens, 1) for n in by_signal.get("log_perplexity", [])},
            details={"tokens": tokens}))
    criteria = []
    for criterion in suite.config.criteria:
        values = [e.scores[criterion.name] for e in examples if criterion.name in e.scores]
        estimate = estimate_mean(values, suite.metrics[criterion.name].binary)
        criteria.append(CriterionResult(
            name=criterion.name, metric=criterion.metric, value=estimate.value,
            low=estimate.low, high=estimate.high, n=estimate.n, interval=estimate.method,
            bound=criterion.bound_text(),
            status=criterion.decide(estimate.low, estimate.high).value))
    ident = identity(suite, resolved, adapter, pool)
    run_key = sha256_json({**ident, "suite": suite.config_sha256})
    dataset = suite.dataset
    return RunRecord(
        run_key=run_key, created_at=utc_now(), evalgate_version=__version__,
        engine_version=SCORER_VERSION,
        suite={"name": suite.name, "kind": suite.kind,
               "path": display_path(suite.path, project.root),
               "config_sha256": suite.config_sha256, "data_sha256": dataset.sha256,
               "n": len(examples)},
        system={"name": name, "kind": "base" if adapter is None else "adapter",
                "path": display_path(system.path, project.root)
                if system is not None and system.path else None,
                "config_sha256": sha256_json(ident),
                "adapter": display_path(adapter, project.root) if adapter else None,
                "adapter_sha256": ident["adapter"]},
        model={"ref": resolved.ref, "identity": resolved.identity, "source": resolved.source,
               "dtype": ident["dtype"], "quantization": ident["quantization"]},
        generation={"scored": "log-likelihood of the choices; token NLL of the text",
                    "engine": suite.config.engine},
        criteria=tuple(criteria), examples=tuple(examples),
        stats={"cache_hits": own.hits, "cache_misses": own.misses,
               "seconds": round(own.seconds, 3)})


def subject_table(suite: CapabilitySuite, base: RunRecord, candidate: RunRecord
                  ) -> list[dict[str, Any]]:
    """Per subject: questions, base and candidate accuracy, the drop, mean gold log-prob of
    both; sorted by the candidate's drop (largest first)."""
    base_by = {e.id: e for e in base.examples}
    rows: dict[str, dict[str, Any]] = {}
    for e in candidate.examples:
        subject = e.details.get("subject")
        if subject is None:
            continue
        q = suite.item(e.id)
        b = base_by[e.id]
        own_lp, base_lp = e.details["choice_logprobs"], b.details["choice_logprobs"]
        row = rows.setdefault(subject, {"subject": subject, "n": 0, "base_right": 0,
                                        "candidate_right": 0, "base_gold": 0.0,
                                        "candidate_gold": 0.0, "agree": 0})
        row["n"] += 1
        row["base_right"] += predicted(base_lp) == q.answer
        row["candidate_right"] += predicted(own_lp) == q.answer
        row["base_gold"] += log_softmax(base_lp)[q.answer]
        row["candidate_gold"] += log_softmax(own_lp)[q.answer]
        row["agree"] += predicted(base_lp) == predicted(own_lp)
    table = []
    for row in rows.values():
        n = row["n"]
        table.append({"subject": row["subject"], "n": n,
                      "base_accuracy": row["base_right"] / n,
                      "candidate_accuracy": row["candidate_right"] / n,
                      "drop": (row["base_right"] - row["candidate_right"]) / n,
                      "base_gold_logprob": row["base_gold"] / n,
                      "candidate_gold_logprob": row["candidate_gold"] / n,
                      "agreement": row["agree"] / n})
    table.sort(key=lambda r: (-r["drop"], r["candidate_gold_logprob"] - r["base_gold_logprob"],
                              r["subject"]))
    return table


def section(suite: CapabilitySuite, runs: CapabilityRuns) -> dict[str, Any]:
    """What the report shows for a capability suite beyond its check rows: the base model
    against chance, the subjects that dropped most, the text set's source, the signals."""
    from evalgate.stats import wilson_interval

    base, cand = runs.base, runs.candidate
    questions = [e for e in base.examples if "subject" in e.details]
    right = sum(predicted(e.details["choice_logprobs"]) == suite.item(e.id).answer
                for e in questions)
    low, high = wilson_interval(right, len(questions)) if questions else (0.0, 0.0)
    signals = []
    base_by = {c.name: c for c in base.criteria}
    for c in cand.criteria:
        b = base_by.get(c.name)
        signals.append({"criterion": c.name, "signal": c.metric,
                        "higher_is_better": HIGHER_IS_BETTER[c.metric],
                        "base": b.value if b else None, "candidate": c.value,
                        "low": c.low, "high": c.high, "n": c.n})
    text = suite.text if suite.needs_text else None
    return {
        "kind": "capability",
        "benchmark": suite.source,
        "engine": suite.config.engine,
        "questions": len(questions), "subjects": len(suite.subjects),
        "k_shot": suite.k_shot, "pin": suite.pin,
        "chance": suite.chance,
        "base_accuracy": {"value": right / len(questions) if questions else float("nan"),
                          "low": low, "high": high, "right": right},
        "above_chance": low > suite.chance,
        "dtype": base.model.get("dtype"), "quantization": base.model.get("quantization"),
        "subjects_table": subject_table(suite, base, cand) if questions else [],
        "signals": signals,
        "text": {"source": text.source, "documents": len(text.documents),
                 "tokens": sum(e.prompt_tokens for e in cand.examples
                               if e.id.startswith("text:")),
                 "sha256": text.sha256} if text is not None else None,
        "cost": {"base": {"hits": base.stats["cache_hits"], "misses": base.stats["cache_misses"],
                          "seconds": base.stats["seconds"]},
                 "candidate": {"hits": cand.stats["cache_hits"],
                               "misses": cand.stats["cache_misses"],
                               "seconds": cand.stats["seconds"]}},
    }


def _task(progress: Any, label: str, total: int | None) -> Any:
    if progress is None:
        return None
    return progress.add_task(label, total=total, info="")


def _advance(progress: Any, task: Any):
    def advance(n: int) -> None:
        if task is not None:
            progress.advance(task, n)
    return advance


def _finish(progress: Any, task: Any, total: int) -> None:
    if task is not None:
        progress.update(task, total=total, completed=total)
