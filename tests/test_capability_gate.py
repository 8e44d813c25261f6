"""The capability suite in the gate: base model vs candidate on a tiny model, cached per
question; an untrained adapter passes the continuous signals, a destructive one fails them, and
accuracy at chance says "no power" instead of passing."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
import yaml

from evalgate.capability.run import answer_kl
from evalgate.checks import CriterionEvidence, CriterionSpec, Status
from evalgate.checks.capability import CapabilityRegression
from evalgate.cli.main import main
from evalgate.errors import ConfigError
from evalgate.suite import load_suite
from tests.helpers import write_jsonl, write_project

SUBJECTS = ("abstract_algebra", "world_religions", "astronomy")
TEXTS = [
    "The river rises in the mountains and flows for many miles through farmland before it "
    "reaches the sea, where a wide delta forms.",
    "Bread is made from flour, water, salt and yeast; the dough rises while the yeast turns "
    "sugar into gas, and baking sets the crumb.",
    "A violin has four strings tuned in fifths, and its sound comes from the bow's hair "
    "catching and releasing each string many times a second.",
    "Glaciers move slowly downhill under their own weight, carving valleys into a U shape and "
    "leaving piles of rock where they melt.",
]
# A continuous paired figure decides only from 30 examples (MIN_CONTINUOUS_PAIRED_N): 32
# documents, each base text opened eight ways.
TEXTS = [f"{opening} {text}" for text in TEXTS
         for opening in ("Note:", "In short,", "As a rule,", "Often,", "Notably,", "Indeed,",
                         "Simply put,", "Broadly,")]
QUESTIONS = 30  # 10 per subject: enough pairs for the paired figures to decide


def _questions() -> list[dict]:
    rows = []
    for s, subject in enumerate(SUBJECTS):
        for i in range(12):
            rows.append({"question": f"Which option is number {i} in {subject.replace('_', ' ')}?",
                         "subject": subject, "choices": [f"{w} {i}" for w in
                                                         ("red", "blue", "green", "gold")],
                         "answer": (i + s) % 4})
    return rows


@pytest.fixture(scope="module")
def sharp_model(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny model at unit-scale weights (its default init is near-uniform everywhere)."""
    from transformers import AutoModelForCausalLM

    folder = tmp_path_factory.mktemp("sharp")
    shutil.copytree(tiny_model_dir, folder, dirs_exist_ok=True)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    generator = torch.Generator().manual_seed(5)
    with torch.no_grad():
        for parameter in model.parameters():
            if parameter.dim() >= 2:
                parameter.normal_(0.0, parameter.shape[-1] ** -0.5, generator=generator)
    model.save_pretrained(folder)
    return folder


def _adapter(model_dir: Path, folder: Path, destructive: bool) -> Path:
    """A LoRA adapter: untrained (B = 0, the base model exactly) or with large random
    weights on every projection and the output head (what a destructive learning rate leaves
    behind: a random tiny model's answers hang on the head, so that is where it must hit)."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(model_dir)
    targets = ["q_proj", "v_proj", "o_proj", "up_proj", "down_proj"]
    config = LoraConfig(r=4, lora_alpha=8, target_modules=targets + ["lm_head"] * destructive,
                        init_lora_weights=not destructive)
    peft_model = get_peft_model(model, config)
    if destructive:
        generator = torch.Generator().manual_seed(11)
        with torch.no_grad():
            for name, parameter in peft_model.named_parameters():
                if "lora_" in name:
                    parameter.normal_(0.0, 1.0, generator=generator)
    peft_model.save_pretrained(folder)
    return folder


def _capability_suite(root: Path, **overrides) -> Path:
    write_jsonl(root / "suites" / "data" / "mmlu.jsonl", _questions())
    write_jsonl(root / "suites" / "data" / "general.jsonl",
                [{"id": f"g{i}", "text": text} for i, text in enumerate(TEXTS)])
    suite = {
        "kind": "capability", "name": "knowledge",
        "questions": {"data": "data/mmlu.jsonl", "n_per_subject": 10},
        "general_text": {"data": "data/general.jsonl"},
        "criteria": [
            {"name": "accuracy", "metric": "accuracy", "max_drop": 0.05},
            {"name": "gold_logprob", "metric": "gold_logprob", "max_drop": 0.1},
            {"name": "agreement", "metric": "agreement", "min": 0.8},
            {"name": "answer_kl", "metric": "answer_kl", "max": 0.05},
            {"name": "perplexity", "metric": "log_perplexity", "max_rise": 0.05},
        ],
        **overrides,
    }
    path = root / "suites" / "knowledge.yaml"
    path.write_text(yaml.safe_dump(suite, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def project(sharp_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = write_project(tmp_path_factory.mktemp("cap-project"), str(sharp_model))
    _capability_suite(root)
    config = yaml.safe_load((root / "evalgate.yaml").read_text())
    config["suites"].append("suites/knowledge.yaml")
    (root / "evalgate.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    assert main(["pin", "--project", str(root)]) == 0  # pins the subset and the text
    for name, destructive in (("untrained", False), ("wrecked", True)):
        folder = _adapter(sharp_model, root / "adapters" / name, destructive)
        (root / "systems").mkdir(exist_ok=True)
        (root / "systems" / f"{name}.yaml").write_text(yaml.safe_dump({
            "name": name, "kind": "adapter", "adapter": f"../adapters/{name}",
            "prompts": {"tiny": {"user": "Ticket: {input}"}}}))
        assert folder.is_dir()
    return root


def _judge(root: Path, system: str):
    from evalgate.eval.run import ModelPool
    from evalgate.gate.run import judge
    from evalgate.project import load_project
    from evalgate.systems import load_system

    project = load_project(root)
    suite = load_suite(root / "suites" / "knowledge.yaml")
    pool = ModelPool(project)
    judged = judge(project, load_system(root / "systems" / f"{system}.yaml"), [suite],
                   pool=pool, say=lambda _: None)
    return {c.criterion: c for c in judged.checks}, judged, pool


def test_untrained_adapter_passes_the_signals_and_accuracy_at_chance_has_no_power(project):
    checks, judged, _ = _judge(project, "untrained")
    assert {name: c.kind for name, c in checks.items()} == {
        "accuracy": "capability_regression", "gold_logprob": "max_drop", "agreement": "min",
        "answer_kl": "max", "perplexity": "max_drop"}
    for name in ("gold_logprob", "agreement", "answer_kl", "perplexity"):
        assert checks[name].status is Status.PASS, (name, checks[name])
    assert checks["agreement"].candidate.value == 1.0
    assert checks["answer_kl"].candidate.value == pytest.approx(0.0, abs=1e-9)
    assert checks["perplexity"].delta.value == pytest.approx(0.0, abs=1e-9)
    # 30 random questions: the tiny model is at chance, so a drop could not show.
    accuracy = checks["accuracy"]
    assert accuracy.status is Status.INCONCLUSIVE and accuracy.detail == "no_power"
    assert accuracy.baseline_system == "base-model"
    section = judged.sections["knowledge"]
    assert section["kind"] == "capability" and section["above_chance"] is False
    assert section["questions"] == QUESTIONS and section["subjects"] == 3
    assert len(section["subjects_table"]) == 3 and section["text"]["documents"] == len(TEXTS)
    from evalgate.report.capability import render_markdown
    from evalgate.report.wording import reason

    text = "\n".join(render_markdown("knowledge", section))
    assert "not clearly above chance" in text and "general text" in text
    assert reason(accuracy).startswith("no power: the base model is not clearly above chance")


def test_destructive_adapter_fails_the_signals(project):
    checks, _, _ = _judge(project, "wrecked")
    failed = {name for name, c in checks.items() if c.status is Status.FAIL}
    # (A random tiny model's letter ranking hangs on the letters' own embeddings, so even this
    # adapter keeps its argmax: agreement is the signal for real models, not this one.)
    assert {"gold_logprob", "answer_kl", "perplexity"} <= failed, checks
    assert checks["accuracy"].status is not Status.PASS


def test_warm_rejudge_scores_nothing_and_loads_no_model(project):
    _judge(project, "untrained")
    _, judged, pool = _judge(project, "untrained")
    record = judged.candidates["knowledge"][0]
    assert record.stats["cache_misses"] == 0 and record.stats["cache_hits"] == QUESTIONS + len(TEXTS)
    assert pool._engines == {}  # nothing was missing, so no model loaded
    # The base model's run is written next to the candidate's, and the record pairs by id.
    base = judged.best[("knowledge", "accuracy")]
    assert base[0] == "base-model" and base[2].is_file()


def test_answer_kl_is_zero_for_equal_answers_and_positive_otherwise():
    assert answer_kl([-1.0, -2.0, -3.0, -4.0], [-1.0, -2.0, -3.0, -4.0]) == 0.0
    assert answer_kl([-0.1, -5.0, -5.0, -5.0], [-5.0, -0.1, -5.0, -5.0]) > 3.0


def _evidence(candidate: list[float], base: list[float]) -> CriterionEvidence:
    spec = CriterionSpec(suite="k", name="accuracy", metric="accuracy", binary=True, min=None,
                         max=None, beat_margin=None, max_drop=0.05, higher_is_better=True,
                         fingerprint="", chance=0.25)
    return CriterionEvidence(spec=spec, ids=[str(i) for i in range(len(base))],
                             candidate=candidate, baseline_system="base-model", baseline=base)


def test_regression_check_decides_only_with_power():
    check = CapabilityRegression()
    strong = [1.0] * 180 + [0.0] * 20  # base at 0.90
    same = check.decide(_evidence(list(strong), strong))
    assert same.status is Status.PASS and same.detail is None
    forgot = check.decide(_evidence([1.0] * 100 + [0.0] * 100, strong))
    assert forgot.status is Status.FAIL
    chance = [1.0] * 52 + [0.0] * 148  # base at 0.26
    at_chance = check.decide(_evidence(list(chance), chance))
    assert at_chance.status is Status.INCONCLUSIVE and at_chance.detail == "no_power"


@pytest.mark.parametrize(("overrides", "key", "words"), [
    ({"questions": {"data": "data/mmlu.jsonl", "subjects": ["astronomyy"]}},
     "questions.subjects", "unknown subject"),
    ({"questions": {"data": "data/mmlu.jsonl", "n_per_subject": 13}},
     "questions.n_per_subject", "fewer than the 13"),
    ({"questions": {"data": "data/missing.jsonl"}}, "questions.data", "file not found"),
    ({"questions": {"data": "data/mmlu.jsonl", "n_per_subjet": 2}}, "n_per_subjet", "n_per"),
    ({"criteria": [{"name": "kl", "metric": "answer_kl", "max_rise": 0.1}]}, "criteria",
     "already compares"),
    ({"criteria": [{"name": "p", "metric": "log_perplexity", "max_drop": 0.1}]}, "criteria",
     "max_rise"),
])
def test_bad_capability_suites_are_config_errors(tmp_path: Path, overrides, key, words):
    path = _capability_suite(tmp_path, **overrides)
    with pytest.raises(ConfigError) as caught:
        load_suite(path)
    assert str(path) in str(caught.value) and words in str(caught.value)
    assert key.split(".")[0] in str(caught.value)


def test_unpinned_subset_says_which_pin_to_set(tmp_path: Path):
    path = _capability_suite(tmp_path)
    with pytest.raises(ConfigError, match=r"the question subset is not pinned") as caught:
        load_suite(path)
    assert "set `sha256: " in str(caught.value)
    json.dumps(str(caught.value))


def _task_folder(root: Path) -> Path:
    """A local lm-eval multiple-choice task (any task works the same way offline)."""
    data = write_jsonl(root / "tasks" / "colours.jsonl", [
        {"question": f"What colour is thing {i}?", "choices": ["red", "blue", "green"],
         "answer": i % 3} for i in range(9)])
    (root / "tasks" / "colours.yaml").write_text(yaml.safe_dump({
        "task": "evalgate_test_colours", "dataset_path": "json",
        "dataset_kwargs": {"data_files": {"test": str(data)}}, "test_split": "test",
        "output_type": "multiple_choice", "doc_to_text": "Q: {{question}}\nA:",
        "doc_to_choice": "{{choices}}", "doc_to_target": "answer",
        "metric_list": [{"metric": "acc"}], "metadata": {"version": 1.0}}))
    return root / "tasks"


def test_any_lm_eval_multiple_choice_task_is_a_capability_source(project, tmp_path: Path):
    """`questions.task` names an lm-eval task: lm-eval builds the requests, the built-in
    scorer and lm-eval itself agree on every choice's log-likelihood."""
    from evalgate.capability.items import lm_eval_task_items
    from evalgate.capability.lm_eval_runner import LMEvalSettings, run_task_items
    from evalgate.capability.run import score_items
    from evalgate.models import Engine, ModelSettings, load_model, resolve_model

    folder = _task_folder(tmp_path)
    items = lm_eval_task_items("evalgate_test_colours", folder, None, tmp_path / "s.yaml")
    assert len(items) == 9 and {i.choices for i in items} == {3}
    assert items[1].requests[0] == ("Q: What colour is thing 1?\nA:", " red")
    model = yaml.safe_load((project / "evalgate.yaml").read_text())["model"]["base"]
    resolved = resolve_model(model, tmp_path / "models")
    built_in = score_items(Engine(load_model(resolved, ModelSettings(dtype="float32",
                                                                     device="cpu"))), items)
    reference = run_task_items("evalgate_test_colours", resolved.path, include_path=folder,
                               limit=None, settings=LMEvalSettings(batch_size=4))
    for item in items:
        assert built_in[item.id] == pytest.approx(reference[item.id], abs=1e-4)
    # As a suite: pinned, chance 1/3, judged like MMLU.
    suite_path = project / "suites" / "colours.yaml"
    shutil.copytree(folder, project / "suites" / "tasks", dirs_exist_ok=True)
    suite = {"kind": "capability", "name": "colours",
             "questions": {"task": "evalgate_test_colours", "task_dir": "tasks"},
             "criteria": [{"name": "accuracy", "metric": "accuracy", "max_drop": 0.05},
                          {"name": "answer_kl", "metric": "answer_kl", "max": 0.05}]}
    suite_path.write_text(yaml.safe_dump(suite))
    with pytest.raises(ConfigError, match="not pinned"):
        load_suite(suite_path)
    from evalgate.capability.suite import capability_pins
    from evalgate.eval.run import ModelPool
    from evalgate.gate.run import judge
    from evalgate.project import load_project
    from evalgate.systems import load_system

    suite["sha256"] = capability_pins(suite_path, suite)[0][3]
    suite_path.write_text(yaml.safe_dump(suite))
    loaded = load_suite(suite_path)
    assert loaded.chance == pytest.approx(1 / 3) and loaded.source.startswith("lm-eval task")
    judged = judge(load_project(project), load_system(project / "systems" / "untrained.yaml"),
                   [loaded], pool=ModelPool(load_project(project)), say=lambda _: None)
    checks = {c.criterion: c for c in judged.checks}
    assert checks["accuracy"].kind == "capability_regression"
    assert checks["answer_kl"].status is Status.PASS and checks["accuracy"].n == 9


def test_lm_eval_task_that_is_missing_or_mixed_with_mmlu_keys_is_a_config_error(tmp_path):
    path = tmp_path / "s.yaml"
    for questions, words in [({"task": "no_such_task_anywhere"}, "no task"),
                             ({"task": "x", "n_per_subject": 3}, "replaces MMLU"),
                             ({"limit": 3}, "go with `task`")]:
        path.write_text(yaml.safe_dump({"kind": "capability", "name": "t",
                                        "questions": questions, "criteria": [
                                            {"name": "a", "metric": "accuracy", "max_drop": 0.1}]}))
        with pytest.raises(ConfigError, match=words):
            load_suite(path)


def test_lm_eval_engine_gives_the_built_in_figures_in_the_gate(project):
    """`engine: lm-eval` runs the same questions through lm-eval (base and adapter via
    `peft=`): the per-question log-probs the gate pairs are the built-in scorer's."""
    from evalgate.eval.records import load_record

    _judge(project, "untrained")
    runs = project / "reports" / "runs" / "knowledge"
    built_in = {p.name: load_record(p) for p in runs.glob("*.json")}
    raw = yaml.safe_load((project / "suites" / "knowledge.yaml").read_text())
    raw["engine"] = "lm-eval"
    raw["criteria"] = [c for c in raw["criteria"] if c["metric"] != "log_perplexity"]
    raw.pop("general_text")
    path = project / "suites" / "knowledge_lm_eval.yaml"
    path.write_text(yaml.safe_dump({**raw, "name": "knowledge_lm_eval"}))
    from evalgate.eval.run import ModelPool
    from evalgate.gate.run import judge
    from evalgate.project import load_project
    from evalgate.systems import load_system

    project_config = load_project(project)
    judged = judge(project_config, load_system(project / "systems" / "untrained.yaml"),
                   [load_suite(path)], pool=ModelPool(project_config), say=lambda _: None)
    record = judged.candidates["knowledge_lm_eval"][0]
    reference = next(r for r in built_in.values() if r.system["name"] == "untrained")
    ours = {e.id: e.details["choice_logprobs"] for e in reference.examples
            if "choice_logprobs" in e.details}
    theirs = {e.id: e.details["choice_logprobs"] for e in record.examples}
    assert theirs.keys() == ours.keys()
    for qid, values in theirs.items():
        assert values == pytest.approx(ours[qid], abs=1e-3)


def test_a_capability_only_project_gives_its_verdict_without_baselines(
        project: Path, tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch):
    """No task suite, so no baselines and no reports/baseline.json: the gate still judges the
    candidate against its base model and says its verdict (never a traceback)."""
    root = tmp_path / "cap-only"
    shutil.copytree(project, root, ignore=shutil.ignore_patterns(".evalgate", "reports"))
    config = yaml.safe_load((root / "evalgate.yaml").read_text())
    config["suites"] = ["suites/knowledge.yaml"]
    config["baselines"] = []
    (root / "evalgate.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    monkeypatch.chdir(root)
    assert main(["lock"]) == 0
    capsys.readouterr()
    code = main(["gate", "systems/untrained.yaml"])
    captured = capsys.readouterr()
    assert code in (0, 1), captured.err
    assert not (root / "reports" / "baseline.json").exists()
    assert "Traceback" not in captured.err
    assert "knowledge" in captured.out and ("PROMOTE" in captured.out
                                            or "INCONCLUSIVE" in captured.out
                                            or "REJECT" in captured.out)
    [folder] = (root / "reports" / "gate").iterdir()
    for report in ("report.md", "report.html", "report.json", "junit.xml"):
        assert (folder / report).is_file(), report
    assert "knowledge" in (folder / "report.md").read_text()
