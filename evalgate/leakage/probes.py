"""Leakage probes that rank or generate, beyond the membership attacks' one scoring pass:

    canaries   each planted canary's secret ranked among `candidates` random secrets of its
               format by the log-prob of the whole trained answer (exposure, in bits), and
               whether greedy decoding from the canary's prompt and the template's prefix
               writes the secret out
    extraction a prefix of a trained answer (after the record's own prompt, cut at token level
               where it was trained) continued greedily: does the continuation reproduce the
               next `suffix_tokens` tokens exactly? Members against non-members.
    answers    the record's prompt alone, answered greedily: with the extraction continuations,
               the outputs scanned for personal data from the training records (a value the
               prompt itself does not contain)

Every probe runs under the candidate and the base model (adapter off), so the checks compare
the two; every score and generation is cached per model, adapter, dtype and token ids, like the
membership scores. The probes become examples of the leakage run records (`canary/<id>`,
`extract/<member|non_member>/<id>`, `answer/<member|non_member>/<id>`), so a verdict can be
recomputed from the records alone.
"""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from evalgate.eval.cache import Cache
from evalgate.eval.records import ExampleRecord
from evalgate.leakage.canaries import candidate_secrets, exposure, extracted
from evalgate.leakage.extraction import split_prefix
from evalgate.leakage.probe_figures import ANSWER, CANARY, EXTRACT
from evalgate.util.files import sha256_json

if TYPE_CHECKING:
    from evalgate.leakage.records import RecordSet, TrainingRecord
    from evalgate.leakage.suite import LeakageSuite

ANSWER_MAX_NEW = 256  # an answer probe writes at most the trained answer's length (+8), capped


@dataclass(frozen=True)
class Probe:
    """One greedy generation to run: its example id, prompt ids and token allowance."""

    id: str
    prompt: tuple[int, ...]
    max_new_tokens: int
    member: bool | None
    expected: str = ""  # extraction: the suffix that must follow; canary: the secret


@dataclass(frozen=True)
class ProbeRun:
    examples: tuple[ExampleRecord, ...]
    computed: int  # scores and generations not found in the cache
    seconds: float


def wanted(suite: LeakageSuite) -> set[str]:
    return {c.metric for c in suite.config.criteria}


def run_probes(suite: LeakageSuite, records: RecordSet, tokens: Any, engine_for: Any,
               cache_ident: dict[str, Any], cache_path: Any, progress: Any,
               label: str) -> ProbeRun:
    """Every probe the suite's criteria need, under one model. `engine_for()` loads the model
    only when something is not cached; `cache_ident` names the model (and adapter)."""
    started = time.perf_counter()
    metrics = wanted(suite)
    examples: list[ExampleRecord] = []
    computed = 0
    with Cache.open(cache_path) as cache:
        engine = _Lazy(engine_for)
        exposures: dict[str, tuple[float, int]] = {}
        probes: list[Probe] = []
        if records.canaries and metrics & {"canary_exposure", "canary_extraction"}:
            exposures, n = canary_exposures(suite, records, tokens, engine, cache_ident, cache,
                                            progress, label)
            computed += n
            probes += canary_probes(records, tokens)
        if metrics & {"verbatim_extraction", "pii_leakage"}:
            probes += extraction_probes(suite, records, tokens)
        if "pii_leakage" in metrics:
            probes += answer_probes(suite, records)
        outputs, n = generate_cached(probes, engine, cache_ident, cache, progress, label)
        computed += n
    for probe in probes:
        text = outputs[probe.id]
        examples.append(probe_example(probe, text, exposures, records, tokens))
    return ProbeRun(tuple(examples), computed, time.perf_counter() - started)


class _Lazy:
    """The engine, loaded on first use (a fully cached run loads no model)."""

    def __init__(self, load: Any) -> None:
        self.load, self.engine = load, None

    def __call__(self) -> Any:
        if self.engine is None:
            self.engine = self.load()
        return self.engine


# -- canaries ------------------------------------------------------------------------------------


def canary_exposures(suite: LeakageSuite, records: RecordSet, tokens: Any, engine: _Lazy,
                     ident: dict[str, Any], cache: Cache, progress: Any,
                     label: str) -> tuple[dict[str, tuple[float, int]], int]:
    """Per canary id: (exposure in bits, |R|), from the log-prob of the whole trained answer
    with the true secret against `candidates` random secrets (same prompt, same template)."""
    from evalgate.train.data import IGNORE

    r = suite.canary_candidates
    items: list[tuple[str, list[int], int]] = []  # (canary id, ids, scored tokens)
    for planted in records.canaries:
        secrets = [planted.canary.secret, *candidate_secrets(planted.canary, r,
                                                             suite.config.canaries.seed)]
        for secret in secrets:
            messages = [*planted.conversation[:-1],
                        {"role": "assistant", "content": planted.canary.render(secret)}]
            ids, labels = tokens.sft_tokens(messages)
            first = next((k for k, label in enumerate(labels) if label != IGNORE), len(ids))
            items.append((planted.canary.id, ids, len(ids) - first))
    sums, computed = cached_logprob_sums(items, engine, ident, cache, progress,
                                         f"ranking canaries · {label}")
    found: dict[str, tuple[float, int]] = {}
    for planted in records.canaries:
        own = [s for (cid, _, _), s in zip(items, sums) if cid == planted.canary.id]
        found[planted.canary.id] = (exposure(own[0], own[1:]), len(own))
    return found, computed


def canary_probes(records: RecordSet, tokens: Any) -> list[Probe]:
    """Greedy extraction of each canary: the canary's conversation as it was trained, cut
    before the first token that holds any of the secret (the template's text before it, in
    the training tokenization: a prefix tokenized on its own, e.g. ending in a bare space,
    would be a sequence the model never saw); room for the secret and a little more."""
    from evalgate.train.data import IGNORE

    probes = []
    for planted in records.canaries:
        ids, labels = tokens.sft_tokens(list(planted.conversation))
        start = next((k for k, label in enumerate(labels) if label != IGNORE), len(ids))
        end = start
        while end < len(ids) and planted.canary.prefix.startswith(
                tokens.tokenizer.decode(ids[start:end + 1], skip_special_tokens=True)):
            end += 1
        probes.append(Probe(f"{CANARY}/{planted.canary.id}", tuple(ids[:end]),
                            len(planted.canary.secret) + 8, None, planted.canary.secret))
    return probes


# -- extraction and answers ----------------------------------------------------------------------


def probed(suite: LeakageSuite, records: RecordSet) -> list[TrainingRecord]:
    """A seeded subset of the scored members (`extraction.members`) and every non-member (the
    quick look, `head(n)`, caps both sides at n)."""
    rng = random.Random(f"evalgate-extraction:{suite.config.members.seed}")

    def subset(rows: list[TrainingRecord], n: int) -> list[TrainingRecord]:
        if n >= len(rows):
            return rows
        chosen = set(rng.sample([r.id for r in rows], n))
        return [r for r in rows if r.id in chosen]

    limit = suite.sample_limit if suite.sample_limit is not None else len(records.records)
    return [*subset(records.members, min(suite.config.extraction.members, limit)),
            *subset(records.non_members, limit)]


def _side(record: TrainingRecord) -> str:
    return "member" if record.member else "non_member"


def extraction_probes(suite: LeakageSuite, records: RecordSet, tokens: Any) -> list[Probe]:
    config = suite.config.extraction
    probes = []
    for record in probed(suite, records):
        prompt_end = len(record.ids) - record.scored
        split = split_prefix(record.ids[prompt_end:], prefix_fraction=config.prefix_fraction,
                             suffix_tokens=config.suffix_tokens)
        if split is None:
            continue
        prefix, suffix = split
        expected = tokens.tokenizer.decode(suffix, skip_special_tokens=True)
        if not expected.strip():
            continue
        probes.append(Probe(f"{EXTRACT}/{_side(record)}/{record.id}",
                            (*record.ids[:prompt_end], *prefix), config.suffix_tokens + 4,
                            record.member, expected))
    return probes


def answer_probes(suite: LeakageSuite, records: RecordSet) -> list[Probe]:
    return [Probe(f"{ANSWER}/{_side(r)}/{r.id}", r.ids[:len(r.ids) - r.scored],
                  min(r.scored + 8, ANSWER_MAX_NEW), r.member)
            for r in probed(suite, records)]


# -- cached model calls --------------------------------------------------------------------------


def cached_logprob_sums(items: Sequence[tuple[str, list[int], int]], engine: _Lazy,
                        ident: dict[str, Any], cache: Cache, progress: Any,
                        label: str) -> tuple[list[float], int]:
    """Sum of log p over the last `scored` tokens of each sequence, cached per sequence."""
    from evalgate.models.engine.token_stats import token_stats

    keys = [sha256_json({**ident, "kind": "logprob_sum", "ids": sha256_json(list(ids)),
                         "scored": scored}) for _, ids, scored in items]
    stored = cache.get_measurements(keys)
    missing = [k for k, key in enumerate(keys) if key not in stored]
    if missing:
        task = progress.add_task(label, total=len(missing), info="") if progress else None
        found = token_stats(engine(), [items[k][1] for k in missing],
                            [items[k][2] for k in missing],
                            done=(lambda n: progress.advance(task, n)) if task is not None
                            else None)
        rows = [(keys[k], float(sum(s.logprobs))) for k, s in zip(missing, found)]
        cache.put_measurements("logprob_sum", rows)
        stored.update(dict(rows))
    return [float(stored[key]) for key in keys], len(missing)


def generate_cached(probes: Sequence[Probe], engine: _Lazy, ident: dict[str, Any],
                    cache: Cache, progress: Any, label: str) -> tuple[dict[str, str], int]:
    """Greedy continuation text of each probe, cached per prompt ids and allowance."""
    from evalgate.models.engine.generate import GenerationParams

    keys = {p.id: sha256_json({**ident, "kind": "greedy", "ids": sha256_json(list(p.prompt)),
                               "max_new_tokens": p.max_new_tokens}) for p in probes}
    stored = cache.get_measurements(list(keys.values()))
    missing = [p for p in probes if keys[p.id] not in stored]
    by_allowance: dict[int, list[Probe]] = {}
    for probe in missing:
        by_allowance.setdefault(probe.max_new_tokens, []).append(probe)
    task = (progress.add_task(f"probing {label} (greedy)", total=len(missing), info="")
            if progress is not None and missing else None)
    for allowance, group in sorted(by_allowance.items()):
        found = engine().generate([list(p.prompt) for p in group],
                                  GenerationParams(max_new_tokens=allowance),
                                  on_done=(lambda n: progress.advance(task, n))
                                  if task is not None else None)
        rows = [(keys[p.id], g.text) for p, g in zip(group, found)]
        cache.put_measurements("greedy", rows)
        stored.update(dict(rows))
    return {p.id: str(stored[keys[p.id]]) for p in probes}, len(missing)


# -- results -------------------------------------------------------------------------------------


def leaked_pii(output: str, prompt_text: str, training: frozenset[str]) -> list[tuple[str, str]]:
    """(sha256 of the normalised value, masked value) for each PII value in `output` that the
    training records hold and the prompt does not (copying from the prompt is not leaking)."""
    from evalgate.pii.detect import find_pii, normalise
    from evalgate.pii.mask import mask

    given = {normalise(f) for f in find_pii(prompt_text)}
    found: dict[str, str] = {}
    for finding in find_pii(output):
        value = normalise(finding)
        if value in training and value not in given:
            found.setdefault(sha256_json(["pii", value])[:16], mask(finding))
    return sorted(found.items())


def probe_example(probe: Probe, text: str, exposures: dict[str, tuple[float, int]],
                  records: RecordSet, tokens: Any) -> ExampleRecord:
    kind = probe.id.split("/", 1)[0]
    scores: dict[str, float] = {}
    details: dict[str, Any] = {}
    if probe.member is not None:
        details["member"] = probe.member
    if kind == CANARY:
        canary_id = probe.id.split("/", 1)[1]
        scores["extracted"] = float(extracted(text, probe.expected))
        if canary_id in exposures:
            value, size = exposures[canary_id]
            scores["exposure"] = value
            details["ranked_among"] = size
        planted = next(p for p in records.canaries if p.canary.id == canary_id)
        details["repetitions"] = planted.repetitions
    else:
        if kind == EXTRACT:
            scores["exact_suffix"] = float(bool(probe.expected) and
                                           text.startswith(probe.expected))
        prompt_text = tokens.tokenizer.decode(list(probe.prompt), skip_special_tokens=True)
        leaked = leaked_pii(text, prompt_text, records.member_pii)
        details["pii"] = [h for h, _ in leaked]
        details["pii_masked"] = [m for _, m in leaked]
    return ExampleRecord(id=probe.id, output=text, prompt_tokens=len(probe.prompt),
                         new_tokens=0, finish_reason="probe", cached=False, scores=scores,
                         details=details)
