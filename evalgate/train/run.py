"""Execute a planned training run: reuse, resume, the stages in order, the manifest last.

Layout of `adapters/<run-id>/`:

    sft/ dpo/            each a finished stage: adapter_model.safetensors + adapter_config.json,
                         tokenizer files and evalgate-stage.json (its figures); a stage folder
                         appears whole (written as <stage>.partial, then renamed)
    pairs.jsonl          the preference pairs trained on; pairs.json their provenance
                         (written before the guard on their number: a refused run keeps them)
    checkpoints/<stage>/ TRL checkpoints while the run is unfinished (removed at the end)
    manifest.json        written last: its presence means the run finished (it records the
                         planted canaries, secrets included, and the PII scan's counts)

`adapters/<name>` (the config's name) is a symlink to the newest finished run of that config,
so a system YAML can serve `adapter: ../adapters/<name>/dpo` without naming a run id; run
records still name the adapter by its content hash.

A finished run is reused, never retrained. An unfinished one (a crash, a kill, Ctrl-C) is an
error unless `--resume` (finished stages are kept, the unfinished one continues from its last
checkpoint) or `--restart` (the folder is discarded).

Before a preference stage trains, its pairs are counted against `pairs.min_pairs`: none is a
ConfigError; too few stop the run there under `on_too_few: refuse` (SFT and pairs kept; the
guard is not part of the run id, so relaxing it and `--resume` continue this very run) or are
reported under `warn`: a warning at the time, a `too_few` record in the manifest and a line
under the summary table. A finished run is held to the same guard when it is reused.

Under `accelerate launch` every process runs `execute` on the same plan and trains its replica;
the main process alone creates or discards the run folder, builds and writes the pairs (the
engine generates on it only), saves each finished stage, writes the manifest and points the
alias, and the others wait for it and read those files back (`evalgate.train.distributed`).
Every process takes the same decisions (reuse, refuse, skip), from what it read before the
main process changed anything, so all of them reach the same barriers.
"""

from __future__ import annotations

import gc
import json
import os
import shutil
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from rich.markup import escape

from evalgate.errors import ConfigError, RunError
from evalgate.models.engine import engine_for
from evalgate.models.loading import load_model, model_settings
from evalgate.train import distributed
from evalgate.train.callbacks import Interrupted, ProgressBar, StopRequest, graceful_interrupt
from evalgate.train.config import AutoPairs
from evalgate.train.manifest import (
    git_state,
    ids_sha256,
    library_versions,
    now,
    read_manifest,
    suite_fingerprints,
    write_manifest,
)
from evalgate.train.pairs import (
    PairSet,
    choose_prompts,
    generate_pairs,
    guard_record,
    more_pairs,
    read_pairs,
    shortfall,
    why_few,
    write_pairs,
)
from evalgate.train.plan import TrainPlan
from evalgate.train.preference import build_preference_trainer
from evalgate.train.privacy import canaries_record
from evalgate.train.runtime import (
    StageResult,
    last_checkpoint,
    load_stage,
    quiet_libraries,
    train_stage,
)
from evalgate.train.sft import build_sft_trainer
from evalgate.util.files import atomic_write_json, sha256_file


@dataclass(frozen=True)
class TrainOutcome:
    """A finished (or reused) run (evalgate.report.training renders it as the summary)."""

    plan: TrainPlan
    stages: tuple[StageResult, ...]
    pairs: dict[str, Any] | None
    reused: bool
    manifest: dict[str, Any] = field(repr=False, default_factory=dict)

    @property
    def adapter_dir(self) -> Path:
        return self.plan.run_dir / self.stages[-1].adapter


def execute(plan: TrainPlan, *, resume: bool = False, restart: bool = False,
            progress: Any = None, callbacks: Sequence[Any] = ()) -> TrainOutcome:
    """Run (or reuse) the planned training. `callbacks` are extra TrainerCallbacks (tests)."""
    distributed.start(cpu=plan.hw.use_cpu)
    main = distributed.is_main()
    run_dir = plan.run_dir
    finished = read_manifest(run_dir)
    started = run_dir.exists()
    distributed.wait_for_everyone()  # all have looked before the main process changes anything
    if finished is not None and not restart:
        outcome = _outcome_from_manifest(plan, finished)
        _refuse_finished(plan, outcome.pairs)
        if main:
            point_alias(plan)
        return outcome
    if started and not (resume or restart):
        raise ConfigError(
            f"{run_dir} holds an unfinished run of this config ({_unfinished(plan)})",
            path=plan.config_path,
            fix="pass --resume to continue it from its last checkpoint, or --restart to "
                "discard it and start over")
    if main:
        if restart:
            shutil.rmtree(run_dir, ignore_errors=True)
        run_dir.mkdir(parents=True, exist_ok=True)
    distributed.wait_for_everyone()
    quiet_libraries()
    started_at = now()
    results: list[StageResult] = []
    pair_set: PairSet | None = None
    previous = None
    console = getattr(progress, "console", None)
    skipped: dict[str, str] = {}
    for stage in plan.config.stages:
        stage_dir = run_dir / stage
        done = load_stage(stage_dir)
        if stage != "sft" and pair_set is None:  # built once; after that read back
            with distributed.main_first():  # built and written by the main process only
                pair_set = _pairs(plan, previous, progress)
        if done is None:
            if stage != "sft":
                reason = _guard_pairs(plan, pair_set, console)
                if reason is not None:  # nothing to prefer against: the SFT stage is final
                    skipped[stage] = reason
                    break
            done = _train(plan, stage, previous, pair_set, resume, progress, console, callbacks)
        results.append(done)
        previous = stage_dir
    if main:
        shutil.rmtree(run_dir / "checkpoints", ignore_errors=True)
        manifest = _manifest(plan, results, pair_set, started_at)
        manifest["skipped_stages"] = skipped
        write_manifest(run_dir, manifest)
        point_alias(plan)
    distributed.wait_for_everyone()
    if not main:
        manifest = read_manifest(run_dir)
    return TrainOutcome(plan, tuple(results), manifest["pairs"], False, manifest)


def point_alias(plan: TrainPlan) -> Path | None:
    """Point `adapters/<name>` at this run (relative symlink, swapped atomically). A real folder
    of that name is left alone; so is a file system without symlinks."""
    alias = plan.run_dir.parent / plan.config.name
    if alias.exists() and not alias.is_symlink():
        return None
    temporary = alias.with_name(f".{alias.name}.{os.getpid()}.link")
    try:
        temporary.unlink(missing_ok=True)
        os.symlink(plan.run_dir.name, temporary, target_is_directory=True)
        os.replace(temporary, alias)
    except OSError:
        temporary.unlink(missing_ok=True)
        return None
    return alias


def _train(plan: TrainPlan, stage: str, previous, pair_set: PairSet | None, resume: bool,
           progress: Any, console: Any, callbacks: Sequence[Any]) -> StageResult:
    checkpoints = plan.run_dir / "checkpoints" / stage
    resume_from = last_checkpoint(checkpoints) if resume else None
    stop = StopRequest()
    label = stage.upper() + (" (from the SFT adapter)" if previous is not None else "")
    hooks = [ProgressBar(progress, label), stop, *callbacks]
    try:
        if stage == "sft":
            trainer = build_sft_trainer(plan.config, plan.resolved, plan.hw,
                                        plan.tokens.tokenizer, plan.sft_rows, checkpoints, hooks)
            examples = len(plan.sft_rows)
        else:
            trainer = build_preference_trainer(stage, plan.config, plan.resolved, plan.hw,
                                               plan.tokens, pair_set.pairs, previous,
                                               checkpoints, hooks)
            # KTO unpairs each pair into a desirable and an undesirable row
            examples = len(pair_set.pairs) * (2 if stage == "kto" else 1)
        with graceful_interrupt(stop, console):
            result = train_stage(trainer, plan.tokens.tokenizer, stage, plan.run_dir / stage,
                                 resume_from, stop, examples)
    except (Interrupted, KeyboardInterrupt, ConfigError, RunError):
        raise
    except (RuntimeError, ValueError, OSError, TypeError) as error:
        raise RunError(f"the {stage} stage failed: {type(error).__name__}: {error} (after a "
                       "fix, `evalgate train --resume` continues from the last checkpoint)"
                       ) from error
    finally:
        trainer = None
        gc.collect()
    return result


def _pairs(plan: TrainPlan, policy, progress: Any) -> PairSet:
    """The run's pairs: read back if already built, else copied from the file or generated.
    Only the main process builds them (another reads them back after it, `main_first`)."""
    run_dir = plan.run_dir
    path, info_path = run_dir / "pairs.jsonl", run_dir / "pairs.json"
    if info_path.is_file() or not distributed.is_main():
        info = json.loads(info_path.read_text(encoding="utf-8"))
        return PairSet(tuple(read_pairs(path)), info["source"], info["negatives"], path,
                       sha256_file(path), info["prompts_tried"], info["failed_criteria"],
                       info.get("passed"))
    config = plan.config.pairs
    if isinstance(config, AutoPairs):
        adapter = policy if config.negatives == "policy" else None
        examples = choose_prompts(plan.pool.member_examples(), config.max_prompts,
                                  plan.config.seed)
        pairs, failures, records, passed = _generate(plan, adapter, examples, progress)
        source, negatives, tried = "auto", config.negatives, len(examples)
    else:
        pairs = list(plan.file_pairs)
        records = [{"id": p.id, "prompt": list(p.prompt), "chosen": p.chosen,
                    "rejected": p.rejected} for p in pairs]
        source, negatives, tried, failures, passed = "file", None, len(pairs), {}, None
    # Written even when there are too few (or none): the guard judges them next, and a
    # resumed run reads them back instead of generating again.
    digest = write_pairs(path, records)
    atomic_write_json(info_path, {"source": source, "negatives": negatives,
                                  "prompts_tried": tried, "passed": passed,
                                  "failed_criteria": failures})
    return PairSet(tuple(pairs), source, negatives, path, digest, tried, failures, passed)


def _guard_pairs(plan: TrainPlan, pair_set: PairSet, console: Any) -> str | None:
    """Before a preference stage trains: fewer than `pairs.min_pairs` stop the run (`refuse`)
    or are said now and go on (`warn`). No pair at all never trains: after an SFT stage under
    `warn` the stage is skipped (the reason is returned, and the SFT adapter is the result);
    otherwise it is an error."""
    config = plan.config
    short = shortfall(pair_set.summary(), config, plan.suite.name)
    if short is None:
        return
    stage = config.preference_stage.upper()
    shown = plan.run_dir.relative_to(plan.project.root)
    kept = (f"the SFT adapter is saved in {shown}/sft and the pairs in {shown}/pairs.jsonl"
            if "sft" in config.stages else f"the pairs are saved in {shown}/pairs.jsonl")
    if not pair_set.pairs and "sft" in config.stages and config.pairs.on_too_few == "warn":
        # Zero pairs never train. After SFT that is no failure: every answer tried was already
        # right, so the SFT adapter is the result; the run says so and the manifest records it.
        reason = ("no preference pair, because "
                  f"{why_few(pair_set.summary(), config, plan.suite.name)}")
        text = (f"{stage} skipped: {reason}. The adapter is the SFT stage ({shown}/sft). For "
                f"pairs: {more_pairs(config)}; to stop instead set pairs.on_too_few: refuse.")
        _warn(text, console)
        return reason
    if not pair_set.pairs:
        sft = (f"; the SFT adapter in {shown}/sft is complete and can be served as it is "
               f"(adapter: ../{shown}/sft in a system YAML)" if "sft" in config.stages else "")
        raise ConfigError(
            f"no preference pair for {stage}, because "
            f"{why_few(pair_set.summary(), config, plan.suite.name)}: there is nothing to "
            f"prefer against, so {stage} cannot train{sft}", path=plan.config_path, key="pairs",
            fix=f"train without a preference stage (method: sft), or get pairs: "
                f"{more_pairs(config)}")
    if config.pairs.on_too_few == "refuse":
        raise ConfigError(
            f"{stage} has only {short}. pairs.on_too_few: refuse stopped the run before "
            f"{stage}; {kept}",
            path=plan.config_path, key="pairs.min_pairs",
            fix=f"to train {stage} on these pairs anyway, lower pairs.min_pairs or set "
                "pairs.on_too_few: warn, then run `evalgate train --resume` (it continues "
                "this run: the guard is not part of the run id). For more pairs (a new run): "
                f"{more_pairs(config)}")
    text = (f"{stage} has only {short}. That is too little signal for {stage} to matter; it "
            f"trains anyway (pairs.on_too_few: warn in {plan.config_path}). For more pairs: "
            f"{more_pairs(config)}; to stop here instead set pairs.on_too_few: refuse; to accept "
            "this many, lower pairs.min_pairs.")
    _warn(text, console)


def _warn(text: str, console: Any) -> None:
    """A warning said once: by the main process (the others decide the same and stay quiet)."""
    if not distributed.is_main():
        return
    if console is not None:
        console.print(f"[bold yellow]warning:[/] {escape(text)}", highlight=False)
    else:
        warnings.warn(text, stacklevel=4)


def _refuse_finished(plan: TrainPlan, pairs: dict[str, Any] | None) -> None:
    """A finished run reused under `on_too_few: refuse` must have had enough pairs too."""
    if not pairs or plan.config.pairs.on_too_few != "refuse":
        return
    short = shortfall(pairs, plan.config, plan.suite.name)
    if short is not None:
        raise ConfigError(
            f"the finished run {plan.run_id} trained "
            f"{plan.config.preference_stage.upper()} on {short} (pairs.on_too_few: refuse)",
            path=plan.config_path, key="pairs.min_pairs",
            fix="to accept this run, lower pairs.min_pairs or set pairs.on_too_few: warn; for "
                f"more pairs (a new run): {more_pairs(plan.config)}")


def _generate(plan: TrainPlan, adapter, examples: list, progress: Any):
    loaded = load_model(plan.resolved, model_settings(plan.project.config.model), adapter)
    engine = engine_for(loaded, plan.project.config.engine)
    task = None
    if progress is not None:
        who = "SFT policy" if adapter is not None else "base model"
        task = progress.add_task(f"negatives: {who} answers {len(examples)} prompts",
                                 total=len(examples), info="")

    def advance(count: int) -> None:
        if task is not None:
            progress.advance(task, count)

    try:
        return generate_pairs(examples, plan.suite, engine, plan.tokens, advance)
    finally:
        del engine, loaded
        gc.collect()


def _unfinished(plan: TrainPlan) -> str:
    parts = []
    for stage in plan.config.stages:
        if load_stage(plan.run_dir / stage) is not None:
            parts.append(f"{stage} done")
        elif (checkpoint := last_checkpoint(plan.run_dir / "checkpoints" / stage)) is not None:
            parts.append(f"{stage} checkpointed at step {checkpoint.name.split('-')[-1]}")
    return ", ".join(parts) or "no checkpoint yet"


def _manifest(plan: TrainPlan, results: list[StageResult], pair_set: PairSet | None,
              started_at: str) -> dict[str, Any]:
    config, pool, root = plan.config, plan.pool, plan.project.root
    holdout_seed = config.holdout.seed if config.holdout.seed is not None else config.seed
    return {
        "run_id": plan.run_id,
        "name": config.name,
        "method": config.method,
        "adapter": results[-1].adapter,
        "started_at": started_at,
        "finished_at": now(),
        "config_path": str(plan.config_path.resolve().relative_to(root))
        if plan.config_path.resolve().is_relative_to(root) else str(plan.config_path),
        "config": config.resolved(),
        "seeds": {"seed": config.seed, "data_seed": config.seed, "holdout_seed": holdout_seed},
        "base_model": {"ref": plan.resolved.ref, "identity": plan.resolved.identity,
                       "source": plan.resolved.source},
        "chat_template_sha256": plan.tokens.template_sha256,
        "hardware": {"device": plan.hw.device, "compute_dtype": plan.hw.dtype,
                     "quantization": config.quantization,
                     "processes": distributed.world_size()},
        "suite": plan.suite.name,
        "system": {"name": plan.system.name, "config_sha256": plan.prepared.config_sha256},
        "data": {"path": config.data.path, "sha256": pool.dataset.sha256,
                 "rows": len(pool.dataset), "excluded": list(pool.excluded),
                 "members": list(pool.members), "members_sha256": ids_sha256(pool.members),
                 "non_members": list(pool.non_members),
                 "non_members_sha256": ids_sha256(pool.non_members)},
        "pairs": ({**pair_set.summary(), **guard_record(pair_set.summary(), config)}
                  if pair_set is not None else None),
        "canaries": canaries_record(config, plan.canaries),
        "pii": plan.pii.to_json(),
        "stages": {r.stage: r.to_json() for r in results},
        "suites": suite_fingerprints(plan.suites, root),
        "versions": library_versions(),
        "git": git_state(root),
    }


def _outcome_from_manifest(plan: TrainPlan, manifest: dict[str, Any]) -> TrainOutcome:
    stages = []
    for name in plan.config.stages:
        if name not in manifest["stages"]:  # skipped (no preference pair)
            continue
        stage = StageResult.from_json(manifest["stages"][name])
        if not stage.seen:  # manifests written before `seen` was recorded
            settings = plan.config.settings(name)
            stage = replace(stage, seen=stage.steps * settings.batch_size * settings.grad_accum)
        stages.append(stage)
    stages = tuple(stages)
    return TrainOutcome(plan, stages, manifest.get("pairs"), True, manifest)
