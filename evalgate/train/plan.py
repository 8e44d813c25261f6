"""Everything checked before a model loads, and the run id that names the result.

`plan_run` reads the training config, its suite and system, every suite of the project, the
pinned training pool and pairs file, and the tokenizer; it builds and tokenizes every training
conversation. Bad input of any kind (an unknown key, a missing field, malformed JSON, a chat
template that cannot train an EOS, overlap with held-out data, sequences over max_length) is a
ConfigError here, so `evalgate train` exits 2 without having loaded or written anything.

The run id hashes what decides the adapter: the resolved config, the data and pairs hashes, the
base model's weights identity, the prompt (system entry and suite) and the chat template. The
same inputs give the same id, which is how a finished run is found and reused. The pairs guard
(`pairs.min_pairs`, `pairs.on_too_few`) decides whether a run goes on, not what it learns, so it
is left out: after a refusal, relaxing it and `--resume` continue the same run (SFT kept), and
runs planned before the guard existed keep their ids. So is the PII policy (`pii:`); `canaries:`
changes the SFT rows and is hashed when given, and left out when not, so that runs planned
before canaries existed keep their ids.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from evalgate.errors import ConfigError
from evalgate.models.resolve import ResolvedModel, default_cache_dir, resolve_model
from evalgate.project.config import Project
from evalgate.suite.load import Suite, load_suite
from evalgate.systems.prompting import PreparedSystem, System, load_system
from evalgate.train.config import (
    GUARD_KEYS,
    POLICY_KEYS,
    AutoPairs,
    FilePairs,
    TrainConfig,
    load_train_config,
)
from evalgate.train.data import (
    Pair,
    TrainingPool,
    check_criteria_fields,
    check_overlap,
    load_pair_file,
    load_pool,
)
from evalgate.train.privacy import (
    PiiSummary,
    PlantedCanary,
    check_pii,
    plant_canaries,
    scan_members,
)
from evalgate.train.runtime import Hardware, hardware
from evalgate.train.tokens import ChatTokens, check_lengths
from evalgate.util.files import sha256_json
from evalgate.util.jsonl import Dataset

# Part of every run id: bump when a change to training code changes what an adapter learns.
TRAIN_VERSION = "1"


@dataclass(frozen=True)
class TrainPlan:
    """A validated training run, ready to execute."""

    config_path: Path
    config: TrainConfig
    project: Project
    suite: Suite
    suites: tuple[Suite, ...]
    system: System
    prepared: PreparedSystem
    pool: TrainingPool
    resolved: ResolvedModel
    tokens: ChatTokens
    sft_rows: tuple[tuple[list[int], list[int]], ...]
    file_pairs: tuple[Pair, ...] | None
    pairs_dataset: Dataset | None
    hw: Hardware
    run_id: str
    canaries: tuple[PlantedCanary, ...]  # their rows are the last ones of sft_rows
    pii: PiiSummary

    @property
    def run_dir(self) -> Path:
        return self.project.root / "adapters" / self.run_id


def training_configs(project: Project, given: list[Path] | None = None) -> list[Path]:
    """The configs to train: those given, else every training/*.yaml of the project."""
    paths = list(given or []) or sorted((project.root / "training").glob("*.yaml"))
    if not paths:
        raise ConfigError(f"no training config in {project.root / 'training'}",
                          fix="pass CONFIG or write training/<name>.yaml (see the README, "
                              "\"Training an adapter\")")
    return paths


def plan_run(config_path: Path, project: Project, quick: bool = False) -> TrainPlan:
    config_path = Path(config_path)
    config = load_train_config(config_path)
    if quick:
        config = config.quick()
    if config.canaries is not None and "sft" not in config.stages:
        raise ConfigError(f"method '{config.method}' has no sft stage", path=config_path,
                          key="canaries", fix="canaries are planted in SFT rows; add an sft "
                                              "stage or remove canaries")
    folder = config_path.parent
    suite = load_suite(folder / config.suite)
    if getattr(suite, "kind", "task") != "task":
        raise ConfigError(f"the training suite '{suite.name}' is a {suite.kind} suite",
                          path=config_path, key="suite",
                          fix="train against a task suite (held-out examples with criteria); "
                              f"{suite.kind} suites are judged by the gate only")
    system = load_system(folder / config.system)
    if system.config.adapter is not None:
        raise ConfigError("the training system names an adapter; it must be the plain prompt the "
                          "adapter will be served with", path=system.path, key="adapter",
                          fix="remove `adapter:` (add it to a copy of the file to serve the "
                              "trained adapter)")
    if system.config.backend.kind != "local":
        raise ConfigError(f"the training system is served by a {system.config.backend.kind} "
                          "endpoint; evalgate trains the local base model",
                          path=system.path, key="backend",
                          fix="point `system:` at a local system with the same prompts (the "
                              "trained adapter can be served by an endpoint later)")
    prepared = system.prepare(suite)
    suites = _all_suites(project, suite)
    pool = load_pool(config, config_path, prepared)
    check_overlap([(e.id, e.text) for e in pool.examples.values()], suites, config_path)
    pii = scan_members(config, pool.member_examples())
    check_pii(config, config_path, pii)

    file_pairs = pairs_dataset = None
    if isinstance(config.pairs, FilePairs):
        pairs_dataset, pairs, texts = load_pair_file(
            folder / config.pairs.path, config.pairs.sha256, config, config_path, prepared)
        leaked = sorted({p.id for p in pairs} & set(pool.non_members))
        if leaked:
            raise ConfigError(f"pairs use non-member rows: {', '.join(leaked[:10])}",
                              path=config_path, key="pairs",
                              fix="non-members must never be trained on; change the holdout "
                                  "seed or drop these pairs")
        check_overlap(list(zip((p.id for p in pairs), texts)), suites, config_path, "pairs file")
        file_pairs = tuple(pairs)
    elif isinstance(config.pairs, AutoPairs):
        check_criteria_fields(pool, suite, config_path)
    if config.pairs is not None:
        _check_reachable(config, config_path, len(pool.members), file_pairs)

    model_ref = project.resolve_model_ref(config.model or project.config.model.base)
    resolved = resolve_model(model_ref, default_cache_dir())
    tokens = ChatTokens.load(resolved.path)
    members = pool.member_examples()
    sft_rows: tuple = ()
    canaries = plant_canaries(config, prepared)
    if "sft" in config.stages:
        sft_rows = tuple(tokens.sft_tokens(e.conversation) for e in members)
        check_lengths([(e.id, len(ids)) for e, (ids, _) in zip(members, sft_rows)],
                      config.settings("sft").max_length, config_path, "sft.max_length")
        planted = [tokens.sft_tokens(c.conversation) for c in canaries]
        check_lengths([(c.canary.id, len(ids)) for c, (ids, _) in zip(canaries, planted)],
                      config.settings("sft").max_length, config_path, "sft.max_length")
        sft_rows += tuple(row for c, row in zip(canaries, planted)
                          for _ in range(c.repetitions))
    if config.preference_stage:
        _check_pair_lengths(config, config_path, tokens, suite, members, file_pairs)
    hw = hardware(config)
    run_id = _run_id(config, pool, pairs_dataset, resolved, prepared, suite, tokens)
    return TrainPlan(config_path, config, project, suite, suites, system, prepared, pool,
                     resolved, tokens, sft_rows, file_pairs, pairs_dataset, hw, run_id,
                     canaries, pii)


def _all_suites(project: Project, suite: Suite) -> tuple[Suite, ...]:
    """Every suite of the project plus the training suite (if the project does not list it)."""
    suites = [load_suite(path) for path in project.suite_paths]
    if all(s.path.resolve() != suite.path.resolve() for s in suites):
        suites.append(suite)
    return tuple(suites)


def _check_pair_lengths(config: TrainConfig, config_path: Path, tokens: ChatTokens,
                        suite: Suite, members: list, file_pairs: tuple[Pair, ...] | None) -> None:
    stage = config.preference_stage
    key = f"{stage}.max_length"
    limit = config.settings(stage).max_length
    if file_pairs is not None:
        lengths = []
        for pair in file_pairs:
            longest = max(len(tokens.sft_tokens([*pair.prompt, {"role": "assistant",
                                                                "content": answer}])[0])
                          for answer in (pair.chosen, pair.rejected))
            lengths.append((pair.id, longest))
        check_lengths(lengths, limit, config_path, key)
        return
    # Auto pairs: the rejected answer is at most the suite's max_new_tokens (+ its EOS).
    new = suite.config.generation.max_new_tokens + 1
    lengths = []
    for example in members:
        prompt = len(tokens.prompt_ids(example.prompt))
        answer = len(tokens.sft_tokens(example.conversation)[0]) - prompt
        lengths.append((example.id, prompt + max(answer, new)))
    check_lengths(lengths, limit, config_path, key)


def _check_reachable(config: TrainConfig, config_path: Path, members: int,
                     file_pairs: tuple[Pair, ...] | None) -> None:
    """Under `on_too_few: refuse`, a pair count that can never reach `min_pairs` is refused
    now, before anything trains (under `warn` the run says so when the pairs are built)."""
    guard = config.pairs
    if guard.on_too_few != "refuse":
        return
    if file_pairs is not None:
        if len(file_pairs) < guard.min_pairs:
            raise ConfigError(
                f"the pairs file {guard.path} holds {len(file_pairs)} pairs, fewer than "
                f"pairs.min_pairs = {guard.min_pairs} (pairs.on_too_few: refuse)",
                path=config_path, key="pairs.min_pairs",
                fix="add pairs to the file, lower pairs.min_pairs, or set "
                    "pairs.on_too_few: warn to train on them anyway")
        return
    tried = min(members, guard.max_prompts or members)
    if tried < guard.min_pairs:
        limit = (f"pairs.max_prompts = {guard.max_prompts}" if tried == guard.max_prompts
                 else f"the pool has {members} members")
        raise ConfigError(
            f"at most {tried} auto pairs can be built ({limit}: one pair per failing answer), "
            f"fewer than pairs.min_pairs = {guard.min_pairs} (pairs.on_too_few: refuse)",
            path=config_path, key="pairs.min_pairs",
            fix="raise pairs.max_prompts (or add training rows), lower pairs.min_pairs, or set "
                "pairs.on_too_few: warn")


def _run_id(config: TrainConfig, pool: TrainingPool, pairs_dataset: Dataset | None,
            resolved: ResolvedModel, prepared: PreparedSystem, suite: Suite,
            tokens: ChatTokens) -> str:
    hashed = {k: v for k, v in config.resolved().items() if k not in POLICY_KEYS}
    if hashed.get("canaries") is None:
        hashed.pop("canaries", None)
    if hashed.get("pairs"):
        hashed["pairs"] = {k: v for k, v in hashed["pairs"].items() if k not in GUARD_KEYS}
    from evalgate.train.distributed import world_size

    # The global batch is batch_size × grad_accum × processes: a run trained by 8 processes is
    # another run than the same YAML on one (absent for one process: old run ids are kept).
    processes = world_size()
    if processes > 1:
        hashed["processes"] = processes
    digest = sha256_json({
        "train_version": TRAIN_VERSION,
        "config": hashed,
        "data": pool.dataset.sha256,
        "pairs": pairs_dataset.sha256 if pairs_dataset is not None else None,
        "model": resolved.identity,
        "system": prepared.config_sha256,
        "suite": suite.config_sha256,
        "chat_template": tokens.template_sha256,
    })
    return f"{config.name}-{digest[:12]}"
