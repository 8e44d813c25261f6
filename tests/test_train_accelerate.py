"""`evalgate train` under `accelerate launch`: a real two-process CPU run (SFT then DPO with auto
pairs) on the tiny model. Each file is written once, by the main process, the manifest says two
processes trained, and the two replicas trained as one: the SFT adapter equals a single-process
run whose batch is the two processes' batches together.

accelerate 1.16's `--cpu --num_processes 2` starts one process (its multi-CPU launch goes through
mpirun); `--multi_gpu` is its torchrun launcher, which on a machine without a visible GPU runs
the processes on the CPU over gloo. CUDA is hidden so the test is the same on a GPU machine.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from evalgate.errors import ConfigError
from evalgate.project.config import load_project
from evalgate.train import execute, plan_run
from evalgate.train.manifest import load_manifest
from tests.train_helpers import write_train_project

REPO = Path(__file__).resolve().parents[1]


def _config(batch_size: int) -> dict:
    return {"method": "sft+dpo", "pairs": {"source": "auto"},
            "sft": {"max_steps": 3, "batch_size": batch_size, "learning_rate": 0.05,
                    "max_length": 128, "save_steps": 2},
            "dpo": {"max_steps": 2, "batch_size": batch_size, "learning_rate": 0.01,
                    "max_length": 128, "beta": 0.1}}


def _launch(root: Path, processes: int, *args: str) -> subprocess.CompletedProcess:
    """`accelerate launch … -m evalgate train`, as a user would type it."""
    command = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu",
               "--num_processes", str(processes), "--num_machines", "1",
               "--mixed_precision", "no", "--dynamo_backend", "no",
               "--main_process_port", "0",  # accelerate picks a free port
               "-m", "evalgate", *args]
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "",
           "HF_HOME": str(root / "hf"),  # no accelerate config of this machine's user
           "EVALGATE_HOME": str(root / "home"),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO),
                                                       os.environ.get("PYTHONPATH")]))}
    process = subprocess.Popen(command, cwd=root / "project", env=env, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               start_new_session=True)
    try:
        out, err = process.communicate(timeout=300)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)  # the launcher and every process it started
        out, err = process.communicate()
        pytest.fail(f"accelerate launch did not finish in 300 s\n{out}\n{err}")
    return subprocess.CompletedProcess(command, process.returncode, out, err)


@pytest.mark.skipif(not torch.distributed.is_available() or not torch.distributed.is_gloo_available(),
                    reason="torch without gloo")
def test_two_process_run_writes_once_and_trains_as_one(tmp_path, tiny_model_dir):
    config = write_train_project(tmp_path / "project", tiny_model_dir, overrides=_config(2))
    done = _launch(tmp_path, 2, "train", str(config.relative_to(tmp_path / "project")))
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"

    adapters = tmp_path / "project" / "adapters"
    [run_dir] = [p for p in adapters.iterdir() if not p.is_symlink()]
    assert (adapters / "tiny").is_symlink() and (adapters / "tiny").resolve() == run_dir
    # Each file once, whole: no checkpoints, no *.partial stage, no temp file of an atomic write.
    stage_files = {"adapter_config.json", "adapter_model.safetensors", "chat_template.jinja",
                   "evalgate-stage.json", "tokenizer.json", "tokenizer_config.json"}
    expected = {"manifest.json", "pairs.jsonl", "pairs.json",
                *(f"{stage}/{name}" for stage in ("sft", "dpo") for name in stage_files)}
    assert {str(p.relative_to(run_dir)) for p in run_dir.rglob("*") if p.is_file()} == expected
    assert sorted(p.name for p in adapters.iterdir()) == sorted(["tiny", run_dir.name])

    manifest = load_manifest(run_dir)  # re-hashes the adapter's files
    assert manifest.stage == "dpo" and manifest.processes == 2
    assert manifest.raw["hardware"]["processes"] == 2
    stages = manifest.raw["stages"]
    assert [stages[s]["steps"] for s in ("sft", "dpo")] == [3, 2]
    assert stages["sft"]["seen"] == 3 * 2 * 2  # steps × per-process batch × processes
    assert manifest.raw["pairs"]["count"] > 0
    assert load_file(run_dir / "dpo" / "adapter_model.safetensors")

    # Only the main process shows anything: one summary, one bar per stage.
    assert done.stdout.count("manifest adapters/") == 1
    assert done.stderr.count("SFT: done") == 1
    assert done.stderr.count("DPO (from the SFT adapter): done") == 1

    # The replicas trained as one model: 2 processes × batch 2 is 1 process × batch 4.
    single = write_train_project(tmp_path / "single", tiny_model_dir, overrides=_config(4))
    plan = plan_run(single, load_project(tmp_path / "single" / "evalgate.yaml"))
    execute(plan)
    alone = load_file(plan.run_dir / "sft" / "adapter_model.safetensors")
    together = load_file(run_dir / "sft" / "adapter_model.safetensors")
    assert alone.keys() == together.keys()
    for name in alone:
        torch.testing.assert_close(together[name], alone[name], rtol=1e-4, atol=1e-5)
    assert json.loads((plan.run_dir / "manifest.json").read_text())["hardware"]["processes"] == 1


def test_launcher_mixed_precision_is_refused_for_a_float32_run(tmp_path, tiny_model_dir,
                                                              monkeypatch):
    """TrainingArguments would adopt the launcher's fp16 for a float32 run, unrecorded."""
    config = write_train_project(tmp_path, tiny_model_dir)  # dtype: float32
    project = load_project(tmp_path / "evalgate.yaml")
    monkeypatch.setenv("ACCELERATE_MIXED_PRECISION", "fp16")
    with pytest.raises(ConfigError, match="--mixed_precision no"):
        plan_run(config, project)
    monkeypatch.setenv("ACCELERATE_MIXED_PRECISION", "no")
    assert plan_run(config, project).hw.dtype == "float32"
