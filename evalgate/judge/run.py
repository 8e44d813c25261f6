"""How the gate judges a candidate on a judge suite (the kind's `judge`).

1. Answers: the candidate and the baselines (`against`) answer the suite's prompts through the
   ordinary evaluation loop (cached per example; the same prompts as the task suite named by
   `prompts_of` are the same cache entries).
2. Validation: the judge decides every gold pair in both orders. Its agreement with the gold
   labels and its position consistency are measured; below `gold.min_agreement` (or without
   gold pairs) it is not trusted, and the candidate is not judged at all — its verdicts would
   not count, so no model time is spent on them.
3. Comparisons: candidate against each baseline, every prompt in both orders (a verdict that
   flips with the order is a tie; a tie counts one half). The baseline the candidate beats
   least is the bar.
4. Records: the candidate's (per prompt its score 1 / ½ / 0 and both verdicts, plus the judge,
   its validation and the tallies in `stats.judge`) and the bar baseline's, so the check and a
   recomputed verdict read records only; and the report section.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from evalgate import __version__
from evalgate.errors import ConfigError
from evalgate.eval.records import CriterionResult, ExampleRecord, RunRecord, record_path
from evalgate.judge.judges import JUDGE_VERSION, Comparison, Judge
from evalgate.judge.suite import JudgeSuite
from evalgate.judge.verdicts import PairVerdicts, gold_agreement, longer_won, tally
from evalgate.stats import estimate_mean, wilson_interval
from evalgate.suite.kinds import KindJudgement
from evalgate.util.clock import utc_now
from evalgate.util.files import sha256_json
from evalgate.util.paths import display_path


def judge_pairwise(project: Any, suite: JudgeSuite, candidate: Any, pool: Any,
                   progress: Any = None) -> KindJudgement:
    from evalgate.eval.run import evaluate

    answers = suite.answers_suite()
    opponents = _opponents(project, suite)
    prepared = {s.name: s.prepare(answers) for s in [candidate, *opponents]}  # fail fast
    own = evaluate(answers, candidate, pool, progress, prepared[candidate.name])
    theirs = {s.name: evaluate(answers, s, pool, progress, prepared[s.name]) for s in opponents}
    judge = Judge(_judge_system(suite), pool, suite.config.rubric,
                  max_new_tokens=suite.config.judge.max_new_tokens,
                  json_retries=suite.config.judge.json_retries)
    validation = validate(judge, suite, progress)
    ids = suite.dataset.ids()
    requests = [suite.render_input(e) for e in suite.dataset.examples]
    mine = _outputs(own.record, ids)
    per_baseline: dict[str, list[PairVerdicts]] = {}
    if validation["trusted"]:
        comparisons = []
        for name in theirs:
            other = _outputs(theirs[name].record, ids)
            for request, x, y in zip(requests, mine, other):
                comparisons += [Comparison(request, x, y), Comparison(request, y, x)]
        replies = _judge_all(judge, comparisons, progress, f"judging {candidate.name} × "
                                                            f"{suite.name}")
        for k, name in enumerate(theirs):
            chunk = replies[2 * len(ids) * k: 2 * len(ids) * (k + 1)]
            per_baseline[name] = [PairVerdicts(chunk[2 * i].verdict, chunk[2 * i + 1].verdict)
                                  for i in range(len(ids))]
    tallies = {name: tally(pairs).to_json() for name, pairs in per_baseline.items()}
    # The bar: the baseline the candidate beats least (ties: the one listed first).
    bar = min(theirs, key=lambda n: (tallies[n]["win_rate"], list(theirs).index(n))) \
        if tallies else next(iter(theirs))
    pairs = per_baseline.get(bar)
    other = _outputs(theirs[bar].record, ids)
    lengths = {"candidate": _mean_len(mine), "baseline": _mean_len(other)}
    summary: dict[str, Any] = {
        "judge": judge.describe(), "version": JUDGE_VERSION, "validation": validation,
        "against": bar, "tallies": tallies, "mean_chars": lengths,
        "judged": pairs is not None}
    if pairs is not None:
        won, decided = longer_won(pairs, [len(x) for x in mine], [len(y) for y in other])
        summary["longer_won"] = {"won": won, "decided": decided}
    cand_record = _record(project, suite, candidate.name, own.record, ids, pairs, summary,
                          flip=False)
    base_record = _record(project, suite, bar, theirs[bar].record, ids, pairs, summary,
                          flip=True)
    cand_path = _save(project, suite, cand_record)
    base_path = _save(project, suite, base_record)
    best = {(suite.name, c.name): (bar, base_record, base_path) for c in suite.config.criteria}
    section = {"kind": "judge", "rubric": suite.config.rubric.strip(), **summary}
    return KindJudgement(candidate=(cand_record, cand_path), best=best, section=section)


def validate(judge: Judge, suite: JudgeSuite, progress: Any = None) -> dict[str, Any]:
    """The judge on the gold pairs, both orders: agreement (with its Wilson interval), position
    consistency, ties and unparseable verdicts; `trusted` when agreement ≥ min_agreement."""
    gold = suite.gold
    if gold is None:
        return {"trusted": False, "n": 0, "reason": "no gold pairs: the judge is not validated"}
    comparisons = []
    for pair in gold.examples:
        comparisons += [Comparison(pair["question"], pair["a"], pair["b"]),
                        Comparison(pair["question"], pair["b"], pair["a"])]
    replies = _judge_all(judge, comparisons, progress, f"validating the judge ({len(gold)} "
                                                       "gold pairs)")
    pairs = [PairVerdicts(replies[2 * i].verdict, replies[2 * i + 1].verdict)
             for i in range(len(gold))]
    agree, n = gold_agreement(pairs, [p["preferred"] for p in gold.examples])
    low, high = wilson_interval(agree, n)
    counts = tally(pairs)
    minimum = suite.config.gold.min_agreement
    trusted = agree / n >= minimum
    return {"trusted": trusted, "n": n, "agree": agree, "agreement": agree / n, "low": low,
            "high": high, "min_agreement": minimum, "consistency": counts.consistency,
            "ties": counts.ties, "unparsed": counts.unparsed,
            "disagreed": [p["id"] for p, v in zip(gold.examples, pairs)
                          if (v.result == "win") != (p["preferred"] == "a")
                          or v.result == "tie"][:20],
            "reason": None if trusted else (
                f"judge not trusted: it agrees with {agree} of {n} gold pairs "
                f"({agree / n:.0%}, below min_agreement {minimum:.0%})")}


def _judge_all(judge: Judge, comparisons: list[Comparison], progress: Any, label: str) -> list:
    task = progress.add_task(label, total=len(comparisons), info="") if progress else None

    def done(count: int) -> None:
        if task is not None:
            progress.advance(task, count)

    return judge.judge(comparisons, on_done=done)


def _opponents(project: Any, suite: JudgeSuite) -> list[Any]:
    from evalgate.systems.prompting import load_system

    systems = [load_system(p) for p in project.baseline_paths]
    if not systems:
        raise ConfigError("a judge suite compares the candidate with the baselines, and none "
                          "are listed", path=project.path, key="baselines",
                          fix="list baseline files under `baselines:` in evalgate.yaml")
    against = suite.config.against
    if against == "best":
        return systems
    chosen = [s for s in systems if s.name == against]
    if not chosen:
        raise ConfigError(f"no baseline is named '{against}'", path=suite.path, key="against",
                          fix=f"use `best` or one of: {', '.join(s.name for s in systems)}")
    return chosen


def _judge_system(suite: JudgeSuite) -> Any:
    from evalgate.systems.prompting import System, SystemConfig

    config = suite.config.judge
    return System(path=suite.path, config=SystemConfig(
        name=f"{suite.name}-judge", kind="prompt", model=config.model,
        backend=config.backend))


def _outputs(record: RunRecord, ids: list[str]) -> list[str]:
    by_id = {e.id: e.output for e in record.examples}
    return [by_id[i] for i in ids]


def _mean_len(texts: list[str]) -> float:
    return sum(len(t) for t in texts) / len(texts) if texts else 0.0


def _record(project: Any, suite: JudgeSuite, system: str, answers: RunRecord, ids: list[str],
            pairs: list[PairVerdicts] | None, summary: dict[str, Any], *, flip: bool
            ) -> RunRecord:
    """The judge's view of one side: per prompt the side's answer and, when judged, its score
    (the candidate's 1 / ½ / 0; the bar baseline's the complement) and both verdicts."""
    by_id = {e.id: e for e in answers.examples}
    examples = []
    for index, example_id in enumerate(ids):
        answer = by_id[example_id]
        scores, details = {}, {}
        if pairs is not None:
            pair = pairs[index]
            value = 1.0 - pair.score if flip else pair.score
            scores = {c.name: value for c in suite.config.criteria}
            details = {"verdicts": [pair.forward, pair.backward], "result": pair.result}
        examples.append(ExampleRecord(
            id=example_id, output=answer.output, prompt_tokens=answer.prompt_tokens,
            new_tokens=answer.new_tokens, finish_reason=answer.finish_reason,
            cached=answer.cached, scores=scores, details=details))
    criteria = []
    for criterion in suite.config.criteria:
        values = [e.scores[criterion.name] for e in examples if criterion.name in e.scores]
        estimate = estimate_mean(values, binary=False)
        criteria.append(CriterionResult(
            name=criterion.name, metric=criterion.metric, value=estimate.value,
            low=estimate.low, high=estimate.high, n=estimate.n, interval=estimate.method,
            bound=criterion.bound_text(), status="RELATIVE"))
    run_key = sha256_json({"answers": answers.run_key, "suite": suite.config_sha256,
                           "judge": summary["judge"], "side": "baseline" if flip else
                           "candidate", "against": summary["against"]})
    return RunRecord(
        run_key=run_key, created_at=utc_now(), evalgate_version=__version__,
        engine_version=answers.engine_version,
        suite={"name": suite.name, "kind": suite.kind,
               "path": display_path(suite.path, project.root),
               "config_sha256": suite.config_sha256, "data_sha256": suite.dataset.sha256,
               "n": len(examples)},
        system={**answers.system, "name": system, "answers_record": answers.run_key},
        model=answers.model, generation=answers.generation, criteria=tuple(criteria),
        examples=tuple(examples), stats={**answers.stats, "judge": summary},
        warnings=answers.warnings)


def _save(project: Any, suite: JudgeSuite, record: RunRecord) -> Path:
    path = record_path(project.reports_dir, f"{suite.name}-judged", record.system["name"],
                       record.run_key)
    record.save(path)
    return path
