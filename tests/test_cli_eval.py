"""`evalgate eval` end to end on the tiny model: table, run record, cache hit, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from evalgate.cli.main import main
from tests.helpers import write_project


@pytest.fixture()
def project(tmp_path: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    write_project(tmp_path, str(tiny_model_dir))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("EVALGATE_HOME", str(tmp_path / "home"))
    return tmp_path


def _records(root: Path) -> list[Path]:
    return sorted((root / "reports").rglob("*.json")) if (root / "reports").exists() else []


def test_eval_prints_table_writes_record_and_rerun_hits_cache(project: Path, capsys):
    code = main(["eval", "--suite", "suites/tiny.yaml", "--system", "baselines/prompt.yaml"])
    out = capsys.readouterr().out
    # A random model writes no JSON: both criteria fail (exit 1), and the table says why.
    assert code == 1
    assert "fields" in out and "schema_valid" in out and "FAIL" in out
    assert "0 hits / 6 misses" in out
    [record_path] = _records(project)
    record = json.loads(record_path.read_text())
    assert record["suite"]["n"] == 6 and len(record["examples"]) == 6
    assert {c["name"]: c["status"] for c in record["criteria"]} == {
        "fields": "FAIL", "schema_valid": "FAIL"}
    assert record["model"]["identity"] and record["suite"]["data_sha256"]
    first_outputs = [e["output"] for e in record["examples"]]

    code = main(["eval", "--suite", "suites/tiny.yaml", "--system", "baselines/prompt.yaml"])
    out = capsys.readouterr().out
    assert code == 1
    assert "6 hits / 0 misses" in out and "all cached" in out
    assert _records(project) == [record_path]
    again = json.loads(record_path.read_text())
    assert [e["output"] for e in again["examples"]] == first_outputs
    assert all(e["cached"] for e in again["examples"])


def test_changed_prompt_misses_the_cache(project: Path, capsys):
    main(["eval"])
    baseline = project / "baselines" / "prompt.yaml"
    config = yaml.safe_load(baseline.read_text())
    config["prompts"]["tiny"]["user"] = "Please triage: {input}"
    baseline.write_text(yaml.safe_dump(config))
    main(["eval"])
    assert "0 hits / 6 misses" in capsys.readouterr().out


def test_passing_criteria_exit_zero(project: Path, capsys):
    suite = project / "suites" / "tiny.yaml"
    config = yaml.safe_load(suite.read_text())
    for criterion in config["criteria"]:
        criterion.pop("min")
        criterion["max"] = 0.6  # a random model surely scores below this
    suite.write_text(yaml.safe_dump(config))
    assert main(["eval"]) == 0
    assert "PASS" in capsys.readouterr().out


@pytest.mark.parametrize("breakage, message", [
    (lambda root: (root / "suites/data/heldout.jsonl").write_text('{"id": "x"\n'),
     "changed"),
    (lambda root: (root / "suites/tiny.yaml").write_text(
        (root / "suites/tiny.yaml").read_text().replace("exact_match", "exact_mach")),
     "unknown metric"),
    (lambda root: (root / "suites/schemas/t.schema.json").unlink(), "schema file not found"),
    (lambda root: (root / "evalgate.yaml").write_text(yaml.safe_dump({
        "name": "p", "model": {"base": str(root / "no-model")},
        "suites": ["suites/tiny.yaml"], "baselines": ["baselines/prompt.yaml"]})),
     "no-model"),
])
def test_bad_input_exits_2_and_writes_nothing(project: Path, capsys, breakage, message):
    breakage(project)
    assert main(["eval"]) == 2
    err = capsys.readouterr().err
    assert message in err and "fix:" in err
    assert _records(project) == []
    assert not (project / ".evalgate" / "cache.sqlite").exists()


class _CtrlCAfter:
    """A progress sink that raises KeyboardInterrupt once `limit` examples are generated, as a
    user's Ctrl-C would in the middle of a long run."""

    console = None

    def __init__(self, limit: int) -> None:
        self.limit, self.done, self.generating = limit, 0, set()

    def add_task(self, description: str, **_: object) -> int:
        task = len(self.generating) + 100 + self.done
        if description.startswith("generating"):
            self.generating.add(task)
        return task

    def update(self, *_: object, **__: object) -> None:
        pass

    def remove_task(self, *_: object) -> None:
        pass

    def advance(self, task: int, count: float = 1) -> None:
        if task in self.generating:
            self.done += int(count)
            if self.done >= self.limit:
                raise KeyboardInterrupt


def test_interrupted_eval_keeps_the_examples_already_generated(project: Path, capsys):
    from evalgate.eval.run import ModelPool, evaluate
    from evalgate.project.config import load_project
    from evalgate.suite.load import load_suite
    from evalgate.systems.prompting import load_system

    config = yaml.safe_load((project / "evalgate.yaml").read_text())
    config["engine"] = {"max_batch": 1}  # one row at a time: rows finish one by one
    (project / "evalgate.yaml").write_text(yaml.safe_dump(config))
    loaded = load_project(project / "evalgate.yaml")
    progress = _CtrlCAfter(limit=4)
    with pytest.raises(KeyboardInterrupt):
        evaluate(load_suite(project / "suites" / "tiny.yaml"),
                 load_system(project / "baselines" / "prompt.yaml"),
                 ModelPool(loaded, progress), progress)
    assert _records(project) == []  # no run record for an unfinished run

    main(["eval", "--suite", "suites/tiny.yaml", "--system", "baselines/prompt.yaml"])
    assert "4 hits / 2 misses" in capsys.readouterr().out
