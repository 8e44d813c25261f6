"""How few preference pairs a DPO stage may train on (`pairs.min_pairs`, `pairs.on_too_few`).

The user's case behind it: 46 of 48 SFT answers were already right, so DPO ran 10 steps on 2
pairs without a word. Below the minimum, `warn` trains, says so at the time, records it in the
manifest and under the summary table; `refuse` stops before DPO (exit 2) with SFT and the pairs
kept, and since the guard is not part of the run id, relaxing it and `--resume` continue the same
run. Zero pairs never train: after SFT under `warn` the preference stage is skipped (the SFT
adapter is the result), otherwise it is an error.

The tiny random model never answers a prompt right, so "already right" answers are stood in for
by keeping only the first few of its (real, scored) failing answers: `mostly_right`.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

import evalgate.train.run as run_module
from evalgate.cli.main import main
from evalgate.errors import ConfigError
from evalgate.project.config import load_project
from evalgate.train import execute, load_train_config, plan_run
from evalgate.util.files import sha256_file
from tests.train_helpers import write_train_project

DPO = {"method": "sft+dpo", "pairs": {"source": "auto"},
       "sft": {"max_steps": 2, "batch_size": 4, "learning_rate": 0.01, "max_length": 128},
       "dpo": {"max_steps": 2, "batch_size": 2, "learning_rate": 0.01, "max_length": 128}}


@pytest.fixture()
def no_model(monkeypatch: pytest.MonkeyPatch):
    """Guards that are decided on the config must fire before any model loads."""
    def refuse(*args, **kwargs):
        raise AssertionError("a model was loaded before the guards finished")

    monkeypatch.setattr("evalgate.train.runtime.load_model", refuse)
    monkeypatch.setattr("evalgate.train.run.load_model", refuse)


def mostly_right(monkeypatch: pytest.MonkeyPatch, failing: int) -> None:
    """Pair generation runs for real, then all but `failing` answers count as already right."""
    real = run_module.generate_pairs

    def generate(examples, suite, engine, tokens, on_done=None):
        pairs, failures, records, passed = real(examples, suite, engine, tokens, on_done)
        assert passed == 0 and len(pairs) == len(examples)  # the tiny model gets none right
        return pairs[:failing], failures, records[:failing], len(examples) - failing

    monkeypatch.setattr(run_module, "generate_pairs", generate)


def _pairs(config: Path, **pairs) -> None:
    data = yaml.safe_load(config.read_text())
    data["pairs"] = {"source": "auto", **pairs}
    config.write_text(yaml.safe_dump(data, sort_keys=False))


def _train(root: Path, config: Path, capsys, *extra: str) -> tuple[int, str, str]:
    code = main(["train", str(config), "--project", str(root / "evalgate.yaml"), *extra])
    captured = capsys.readouterr()
    return code, " ".join(captured.out.split()), " ".join(captured.err.split())


def _run_dir(root: Path) -> Path:
    [run_dir] = [p for p in (root / "adapters").iterdir() if not p.is_symlink()]
    return run_dir


# --- the config -------------------------------------------------------------------------------


def test_defaults_and_typos(tmp_path, tiny_model_dir, no_model, capsys):
    config = write_train_project(tmp_path, tiny_model_dir, overrides=DPO)
    loaded = load_train_config(config)
    assert (loaded.pairs.min_pairs, loaded.pairs.on_too_few) == (16, "warn")
    # --quick tries a quarter of the prompts, so it asks for a quarter of the pairs
    assert load_train_config(config).quick().pairs.min_pairs == 4

    for pairs, expected in (({"min_pair": 4}, "min_pair: unknown key"),
                            ({"on_too_few": "stop"}, "'warn' or 'refuse'"),
                            ({"min_pairs": 0}, "min_pairs: Input should be greater than")):
        _pairs(config, **pairs)
        code, _, err = _train(tmp_path, config, capsys)
        assert code == 2 and "tiny.yaml" in err and expected in err, err
        assert not (tmp_path / "adapters").exists()


def test_the_guard_is_not_part_of_the_run_id(tmp_path, tiny_model_dir, no_model):
    config = write_train_project(tmp_path, tiny_model_dir, overrides=DPO)
    project = load_project(tmp_path / "evalgate.yaml")
    first = plan_run(config, project).run_id
    _pairs(config, min_pairs=2, on_too_few="refuse")
    assert plan_run(config, project).run_id == first
    _pairs(config, max_prompts=10)  # what the pairs are made of is part of it
    assert plan_run(config, project).run_id != first


def test_refuse_fails_before_training_when_the_minimum_is_out_of_reach(tmp_path, tiny_model_dir,
                                                                       no_model, capsys):
    config = write_train_project(tmp_path, tiny_model_dir, overrides=DPO)
    _pairs(config, max_prompts=4, on_too_few="refuse")
    code, _, err = _train(tmp_path, config, capsys)
    assert code == 2 and "tiny.yaml [pairs.min_pairs]" in err
    assert "at most 4 auto pairs can be built (pairs.max_prompts = 4" in err
    assert "fewer than pairs.min_pairs = 16" in err and "raise pairs.max_prompts" in err

    _pairs(config, min_pairs=19, on_too_few="refuse")  # the pool has 18 members
    code, _, err = _train(tmp_path, config, capsys)
    assert code == 2 and "the pool has 18 members" in err
    assert not (tmp_path / "adapters").exists()

    # Under warn the same config plans: it says so when the pairs are built.
    _pairs(config, max_prompts=4)
    plan_run(config, load_project(tmp_path / "evalgate.yaml"))


def test_refuse_counts_a_pairs_file_before_training(tmp_path, tiny_model_dir, no_model, capsys):
    config = write_train_project(tmp_path, tiny_model_dir, overrides=DPO)
    members = plan_run(config, load_project(tmp_path / "evalgate.yaml")).pool.members
    rows = [json.loads(line) for line in
            (tmp_path / "training/data/train.jsonl").read_text().splitlines()]
    pairs = tmp_path / "training" / "data" / "pairs.jsonl"
    pairs.write_text("".join(json.dumps({"id": r["id"], "ticket": r["ticket"],
                                         "chosen": json.dumps(r["expected"]),
                                         "rejected": "{}"}) + "\n"
                             for r in rows if r["id"] in members[:3]))
    data = yaml.safe_load(config.read_text())
    data["pairs"] = {"source": "file", "path": "data/pairs.jsonl", "sha256": sha256_file(pairs),
                     "on_too_few": "refuse"}
    config.write_text(yaml.safe_dump(data, sort_keys=False))
    code, _, err = _train(tmp_path, config, capsys)
    assert code == 2 and "tiny.yaml [pairs.min_pairs]" in err
    assert "the pairs file data/pairs.jsonl holds 3 pairs, fewer than pairs.min_pairs = 16" in err


# --- training on the tiny model ---------------------------------------------------------------


def test_warn_trains_says_so_and_records_it(tmp_path, tiny_model_dir, monkeypatch, capsys):
    config = write_train_project(tmp_path, tiny_model_dir, overrides=DPO)
    mostly_right(monkeypatch, failing=2)
    code, out, err = _train(tmp_path, config, capsys)
    assert code == 0, err

    # said at the time, with the count, the minimum, why, and what to change
    assert "warning: DPO has only 2 preference pairs, fewer than pairs.min_pairs = 16, because " \
           "16 of 18 SFT answers were already right (they pass every criterion of suite 'tiny')" \
           in err
    assert "pairs.on_too_few: warn in" in err and "tiny.yaml" in err
    assert "set pairs.on_too_few: refuse" in err and "lower pairs.min_pairs" in err
    # DPO trained anyway, on exactly those 2 pairs; the manifest records the shortfall
    run_dir = _run_dir(tmp_path)
    manifest = json.loads((run_dir / "manifest.json").read_text())
    pairs = manifest["pairs"]
    assert (pairs["count"], pairs["prompts_tried"], pairs["passed"]) == (2, 18, 16)
    assert (pairs["min_pairs"], pairs["on_too_few"], pairs["too_few"]) == (16, "warn", True)
    assert list(manifest["stages"]) == ["sft", "dpo"]
    assert [m["step"] for m in manifest["stages"]["dpo"]["metrics"]] == [1, 2]
    assert len((run_dir / "pairs.jsonl").read_text().splitlines()) == 2
    # and the summary table says DPO could not have mattered
    assert "DPO had too little signal to matter: it trained on 2 preference pairs, fewer " \
           "than pairs.min_pairs = 16, because 16 of 18 SFT answers were already right" in out

    # Reused under refuse (same run id: the guard is not hashed), the finished run is refused.
    _pairs(config, on_too_few="refuse")
    code, _, err = _train(tmp_path, config, capsys)
    assert code == 2 and "tiny.yaml [pairs.min_pairs]" in err
    assert f"the finished run {run_dir.name} trained DPO on 2 preference pairs" in err
    # Accepting this many pairs reuses it: nothing trains, the note is gone.
    _pairs(config, min_pairs=2, on_too_few="refuse")
    code, out, err = _train(tmp_path, config, capsys)
    assert code == 0 and "already trained: reused the finished run" in out
    assert "too little signal" not in out and "warning" not in err


def test_refuse_stops_after_sft_and_resume_continues_the_same_run(tmp_path, tiny_model_dir,
                                                                  monkeypatch, capsys):
    config = write_train_project(tmp_path, tiny_model_dir, overrides=DPO)
    _pairs(config, on_too_few="refuse")
    mostly_right(monkeypatch, failing=2)
    code, out, err = _train(tmp_path, config, capsys)
    assert code == 2, out + err
    assert "tiny.yaml [pairs.min_pairs]" in err
    assert "DPO has only 2 preference pairs, fewer than pairs.min_pairs = 16, because 16 of 18 " \
           "SFT answers were already right" in err
    assert "pairs.on_too_few: refuse stopped the run before DPO" in err
    assert "set pairs.on_too_few: warn" in err and "evalgate train --resume" in err
    # SFT is finished and kept, so are the pairs; DPO never started, the run is unfinished
    run_dir = _run_dir(tmp_path)
    assert f"the SFT adapter is saved in adapters/{run_dir.name}/sft" in err
    sft_adapter = run_dir / "sft" / "adapter_model.safetensors"
    sft_hash = sha256_file(sft_adapter)
    assert not (run_dir / "dpo").exists() and not (run_dir / "checkpoints" / "dpo").exists()
    assert not (run_dir / "manifest.json").exists()
    assert len((run_dir / "pairs.jsonl").read_text().splitlines()) == 2

    # Relaxing the guard keeps the run id: --resume trains DPO on the saved pairs, SFT untouched.
    _pairs(config, on_too_few="refuse", min_pairs=2)

    def must_not_generate(*args, **kwargs):
        raise AssertionError("the saved pairs must be reused")

    monkeypatch.setattr(run_module, "generate_pairs", must_not_generate)
    code, out, err = _train(tmp_path, config, capsys, "--resume")
    assert code == 0, err
    assert _run_dir(tmp_path) == run_dir and sha256_file(sft_adapter) == sft_hash
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["pairs"]["count"] == 2 and manifest["pairs"]["too_few"] is False
    assert manifest["pairs"]["min_pairs"] == 2 and manifest["adapter"] == "dpo"
    assert (run_dir / "dpo" / "adapter_model.safetensors").is_file()
    assert "too little signal" not in out


def test_zero_pairs_never_train_even_under_warn(tmp_path, tiny_model_dir, monkeypatch):
    config = write_train_project(tmp_path, tiny_model_dir, overrides={
        **DPO, "method": "dpo", "sft": None, "pairs": {"source": "auto", "negatives": "base"}})
    plan = plan_run(config, load_project(tmp_path / "evalgate.yaml"))
    assert plan.config.pairs.on_too_few == "warn"
    mostly_right(monkeypatch, failing=0)
    with pytest.raises(ConfigError) as caught:
        execute(plan)
    error = caught.value
    assert error.exit_code == 2 and error.key == "pairs" and error.path == str(config)
    assert "no preference pair for DPO, because 18 of 18 base-model answers were already " \
           "right" in str(error)
    assert "DPO cannot train" in str(error) and "method: sft" in error.fix
    assert not (plan.run_dir / "dpo").exists() and not (plan.run_dir / "manifest.json").exists()


def test_after_sft_zero_pairs_skip_the_preference_stage(tmp_path, tiny_model_dir, monkeypatch,
                                                       capsys):
    """Every SFT answer already right: nothing to prefer against. Under `warn` DPO is skipped
    (never trained), the SFT adapter is the result, and the run says so and records it; the
    user's first project stopped here with exit 2 and a config change that retrained SFT."""
    config = write_train_project(tmp_path, tiny_model_dir, overrides=DPO)
    mostly_right(monkeypatch, failing=0)
    code, out, err = _train(tmp_path, config, capsys)
    assert code == 0, err
    assert "DPO skipped: no preference pair, because 18 of 18 SFT answers were already right" \
        in out + err
    run_dir = _run_dir(tmp_path)
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["adapter"] == "sft" and list(manifest["stages"]) == ["sft"]
    assert list(manifest["skipped_stages"]) == ["dpo"] and manifest["pairs"]["count"] == 0
    assert not (run_dir / "dpo").exists()
    from evalgate.train.manifest import load_manifest
    assert load_manifest(run_dir).stage == "sft"  # the gate serves the SFT adapter
    # Reused as it is, and the summary still says why there is no DPO stage.
    code, out, _ = _train(tmp_path, config, capsys)
    assert code == 0 and "already trained" in out and "DPO skipped" in out
    # Under `refuse` the same situation is an error, before anything trains.
    _pairs(config, on_too_few="refuse")
    code, _, err = _train(tmp_path, config, capsys, "--restart")
    assert code == 2 and "no preference pair for DPO" in err


def test_without_a_console_the_warning_is_a_python_warning(tmp_path, tiny_model_dir, monkeypatch):
    """`execute` called as a library (no progress display) still says it, never silently."""
    config = write_train_project(tmp_path, tiny_model_dir, overrides=DPO)
    plan = plan_run(config, load_project(tmp_path / "evalgate.yaml"))
    mostly_right(monkeypatch, failing=3)
    with pytest.warns(UserWarning, match=r"DPO has only 3 preference pairs, fewer than "
                                         r"pairs.min_pairs = 16, because 15 of 18 SFT"):
        outcome = execute(plan)
    assert outcome.pairs["too_few"] is True and outcome.adapter_dir == plan.run_dir / "dpo"
