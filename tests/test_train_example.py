"""The example training config of this repository: it passes every guard on the real data, and
the system that serves the trained adapter uses the very prompt it is trained with."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from evalgate.errors import ConfigError
from evalgate.project.config import load_project
from evalgate.train import load_train_config

ROOT = Path(__file__).resolve().parent.parent


def test_served_prompt_is_the_trained_prompt():
    trained = yaml.safe_load((ROOT / "systems/triage_adapter.yaml").read_text())
    served = yaml.safe_load((ROOT / "systems/triage_adapter_trained.yaml").read_text())
    assert served["prompts"] == trained["prompts"] and served["kind"] == trained["kind"]
    assert "adapter" not in trained
    config = load_train_config(ROOT / "training/triage.yaml")
    assert (ROOT / "training" / config.system).resolve() == ROOT / "systems/triage_adapter.yaml"
    assert served["adapter"] == f"../adapters/{config.name}/{config.stages[-1]}"


@pytest.mark.integration
def test_example_config_passes_every_guard_on_the_real_data():
    from evalgate.train import plan_run

    try:
        plan = plan_run(ROOT / "training/triage.yaml", load_project(ROOT / "evalgate.yaml"))
    except ConfigError as error:
        if "not installed" in str(error):
            pytest.skip(f"embedded model package not installed: {error}")
        raise
    pool = plan.pool
    assert len(pool.dataset) == 600 and len(pool.excluded) == 7
    assert len(pool.members) + len(pool.non_members) == 593
    assert len(pool.non_members) == round(0.2 * 593)  # ≥ 100: a 1% FPR can be resolved
    assert {s.name for s in plan.suites} == {"triage", "policy_qa", "general_knowledge",
                                             "memorisation", "policy_judge"}
    # canaries planted, each asked for apart; the tickets' phone numbers found and warned of
    assert len(plan.canaries) == 8
    assert len(plan.sft_rows) == len(pool.members) + sum(c.repetitions for c in plan.canaries)
    assert plan.pii.policy == "warn" and set(plan.pii.found) == {"phone"}
    assert plan.run_id.startswith("triage-")


def test_the_committed_lock_matches_the_example_project(capsys):
    """evalgate.lock is committed with the example project (criteria written down before any
    training): editing a suite without `evalgate lock --update` fails here, not in a demo."""
    from evalgate.cli.main import main

    assert main(["lock", "--check", "--project", str(ROOT)]) == 0, capsys.readouterr().err
