"""The judge suite: pairwise verdicts in both orders, ties, validation on gold pairs, and judges
on real servers (a scripted one for known verdicts and faults, `transformers serve` for a real
model's unparseable answers) and in-process (log-probs)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from evalgate.cli.main import main
from evalgate.gate import load_verdict
from evalgate.judge.judges import parse_verdict
from evalgate.judge.verdicts import (
    FIRST,
    SECOND,
    TIE,
    PairVerdicts,
    gold_agreement,
    longer_won,
    tally,
)
from evalgate.util.files import sha256_file
from tests.endpoints import FaultServer, completion, serve_model
from tests.helpers import example_rows, write_jsonl, write_project
from tests.tiny import build_tiny_llama

# -- accounting ---------------------------------------------------------------------------------


@pytest.mark.parametrize("forward, backward, result, consistent", [
    (FIRST, SECOND, "win", True),      # X preferred in both orders
    (SECOND, FIRST, "loss", True),
    (FIRST, FIRST, "tie", False),      # the first position won twice: position bias
    (SECOND, SECOND, "tie", False),
    (TIE, TIE, "tie", True),
    (FIRST, TIE, "tie", False),
    (None, SECOND, "tie", False),      # unparseable: never guessed
])
def test_both_orders_decide_and_a_flip_is_a_tie(forward, backward, result, consistent):
    pair = PairVerdicts(forward, backward)
    assert pair.result == result and pair.consistent is consistent
    assert pair.score == {"win": 1.0, "tie": 0.5, "loss": 0.0}[result]


def test_tally_counts_ties_as_half_and_reports_consistency():
    pairs = [PairVerdicts(FIRST, SECOND), PairVerdicts(FIRST, SECOND), PairVerdicts(FIRST, FIRST),
             PairVerdicts(SECOND, FIRST), PairVerdicts(None, None)]
    counts = tally(pairs)
    assert (counts.wins, counts.ties, counts.losses, counts.unparsed) == (2, 2, 1, 2)
    assert counts.win_rate == pytest.approx((2 + 0.5 * 2) / 5)
    assert counts.consistency == pytest.approx(3 / 5)
    # Gold: pair 1 prefers a (a won: agree), pair 2 prefers b (a won: disagree), a tie agrees
    # with neither.
    assert gold_agreement(pairs[:3], ["a", "b", "a"]) == (1, 3)
    # The longer answer won pair 1 (X, 10 chars), lost pair 2 (Y, 9) and pair 4 (X, 5).
    assert longer_won(pairs[:4], [10, 3, 5, 5], [4, 9, 1, 2]) == (1, 3)


@pytest.mark.parametrize("text, verdict", [
    ('{"winner": "A"}', FIRST), ('{"winner": "b"}', SECOND), ('{"winner": "tie"}', TIE),
    ('```json\n{"winner": "B"}\n```', SECOND), ('  {"winner":"A"} ', FIRST),
    ("A", None), ('Answer A is better. {"winner": "A"}', None), ('{"winner": "C"}', None),
    ('{"winner": "A", "why": "x"}', None), ('{"winner": 1}', None), ("", None),
])
def test_only_strict_json_verdicts_are_read(text, verdict):
    assert parse_verdict(text) == verdict


# -- the suite in the gate ----------------------------------------------------------------------

RUBRIC = "A better answer is one JSON object with the intent and the order id of the ticket."


def _good(ticket_or_prompt: str) -> str:
    order = re.search(r"ORD-\d+", ticket_or_prompt)
    return json.dumps({"intent": "status", "order_id": order.group(0) if order else None})


def _gold_rows() -> list[dict]:
    rows = []
    for i in range(8):
        ticket = f"Where is my order ORD-{200000 + i}?"
        good, bad = _good(ticket), f"I cannot help with order {i}, sorry."
        first_good = i % 2 == 0
        rows.append({"id": f"gold-{i}", "question": ticket, "a": good if first_good else bad,
                     "b": bad if first_good else good, "preferred": "a" if first_good else "b"})
    return rows


def _judge_project(root: Path, model: Path, judge_backend, min_agreement: float = 0.75) -> Path:
    write_project(root, str(model), rows=example_rows(10), suite_overrides={"criteria": [
        {"name": "fields", "metric": "exact_match", "reference": "expected",
         "json_keys": ["intent", "order_id"], "beat_baseline": {"margin": 0.0}}]})
    gold = write_jsonl(root / "suites" / "data" / "gold.jsonl", _gold_rows())
    data = root / "suites" / "data" / "heldout.jsonl"
    (root / "suites" / "tiny_judge.yaml").write_text(yaml.safe_dump({
        "kind": "judge", "name": "tiny_judge", "data": "data/heldout.jsonl",
        "sha256": sha256_file(data), "input": "{ticket}", "prompts_of": "tiny",
        "generation": {"max_new_tokens": 8}, "rubric": RUBRIC, "judge": judge_backend,
        "gold": {"path": "data/gold.jsonl", "sha256": sha256_file(gold),
                 "min_agreement": min_agreement},
        "criteria": [{"name": "preferred", "metric": "judge_win_rate", "min": 0.5}]}))
    project = yaml.safe_load((root / "evalgate.yaml").read_text())
    project["suites"].append("suites/tiny_judge.yaml")
    (root / "evalgate.yaml").write_text(yaml.safe_dump(project))
    return root


def _candidate(root: Path, base_url: str) -> Path:
    """An endpoint 'fine-tune' that answers every ticket right."""
    path = root / "candidates" / "ft.yaml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(yaml.safe_dump({
        "name": "ft", "kind": "prompt", "prompts": {"default": {"user": "Ticket: {input}"}},
        "backend": {"kind": "openai", "base_url": base_url, "model": "ft:tickets"}}))
    return path


def _gate_candidate(root: Path, base_url: str) -> int:
    """Lock the project, then gate the endpoint candidate at `base_url`: the exit code."""
    candidate = _candidate(root, base_url)
    main(["lock", "--project", str(root)])
    return main(["gate", str(candidate), "--project", str(root)])


def _fine_tune(n: int, body: dict):
    return 200, {}, completion(_good(body["messages"][-1]["content"])), 0.0


def _answer(text: str, label: str) -> str:
    return text.split(f"[Answer {label}]\n", 1)[1].split(f"\n[End of answer {label}]", 1)[0]


def _fair_judge(n: int, body: dict):
    """Prefers the answer that is JSON; a tie when both or neither are."""
    text = body["messages"][-1]["content"] if body["messages"][-1]["role"] == "user" else ""
    text = next(m["content"] for m in body["messages"] if "[Answer A]" in m["content"])
    ok = [_answer(text, x).startswith("{") for x in "AB"]
    winner = "tie" if ok[0] == ok[1] else ("A" if ok[0] else "B")
    return 200, {}, completion(json.dumps({"winner": winner})), 0.0


@pytest.fixture()
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("EVALGATE_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _section(root: Path) -> dict:
    [folder] = (root / "reports" / "gate").iterdir()
    verdict = load_verdict(folder / "report.json")
    return verdict, verdict.sections["tiny_judge"]


def test_a_validated_judge_prefers_the_better_candidate(home: Path, tiny_model_dir: Path,
                                                        capsys):
    with FaultServer(_fine_tune) as ft, FaultServer(_fair_judge) as judge:
        root = _judge_project(home / "p", tiny_model_dir, {"backend": {
            "kind": "openai", "base_url": judge.base_url, "model": "judge"}})
        candidate = _candidate(root, ft.base_url)
        assert main(["lock", "--project", str(root)]) == 0
        assert main(["gate", str(candidate), "--project", str(root)]) == 0
        out = capsys.readouterr().out
        asked = len(judge.requests)
        # 8 gold pairs × 2 orders, then 10 prompts × 2 orders against the one baseline.
        assert asked == 16 + 20
        verdict, section = _section(root)
        assert verdict.decision == "PROMOTE"
        check = next(c for c in verdict.checks if c.kind == "judge_win_rate")
        assert check.status == "PASS" and check.candidate.value == 1.0
        assert check.baseline_system == "prompt"
        validation = section["validation"]
        assert validation["trusted"] and validation["agree"] == 8
        assert validation["consistency"] == 1.0 and validation["unparsed"] == 0
        assert section["tallies"]["prompt"]["wins"] == 10 and section["judge"]["mode"] == "json"
        assert "judge · tiny_judge" in out and "trusted" in out and "win rate" in out
        # A re-gate asks the judge nothing: every verdict is cached.
        assert main(["gate", str(candidate), "--project", str(root)]) == 0
        assert len(judge.requests) == asked
    report = next((root / "reports" / "gate").iterdir())
    assert "Judge: tiny_judge" in (report / "report.md").read_text()
    assert "Judge: tiny_judge" in (report / "report.html").read_text()


def _always_a(n: int, body: dict):
    return 200, {}, completion('{"winner": "A"}'), 0.0


def test_a_judge_that_always_says_a_is_not_trusted(home: Path, tiny_model_dir: Path, capsys):
    with FaultServer(_fine_tune) as ft, FaultServer(_always_a) as judge:
        root = _judge_project(home / "p", tiny_model_dir, {"backend": {
            "kind": "openai", "base_url": judge.base_url, "model": "judge"}})
        assert _gate_candidate(root, ft.base_url) == 1
        assert len(judge.requests) == 16  # validated, not trusted: the candidate is not judged
    out = capsys.readouterr().out
    verdict, section = _section(root)
    check = next(c for c in verdict.checks if c.kind == "judge_win_rate")
    assert check.status == "INCONCLUSIVE" and check.detail == "untrusted"
    assert "judge not trusted" in check.notes[0] and "0 of 8" in check.notes[0]
    # Position bias in plain sight: every gold pair flipped with the order.
    assert section["validation"]["consistency"] == 0.0 and section["validation"]["ties"] == 8
    assert "NOT TRUSTED" in out and "judge not trusted" in out


def test_unparseable_verdicts_are_asked_again_then_recorded(home: Path, tiny_model_dir: Path):
    def chatty(n: int, body: dict):
        return 200, {}, completion("I think the first answer is better."), 0.0

    with FaultServer(_fine_tune) as ft, FaultServer(chatty) as judge:
        root = _judge_project(home / "p", tiny_model_dir, {"json_retries": 1, "backend": {
            "kind": "openai", "base_url": judge.base_url, "model": "judge"}})
        assert _gate_candidate(root, ft.base_url) == 1
        assert len(judge.requests) == 32  # 16 verdicts, each asked once more
        reminder = judge.requests[-1]["messages"][-1]["content"]
        assert "could not be read" in reminder
    _, section = _section(root)
    assert section["validation"]["unparsed"] == 16 and not section["validation"]["trusted"]


@pytest.mark.parametrize("fault", ["down", "429"])
def test_a_judge_that_fails_fails_the_run(home: Path, tiny_model_dir: Path, capsys, fault):
    from tests.endpoints import free_port

    with FaultServer(_fine_tune) as ft, FaultServer(
            lambda n, b: (429, {"Retry-After": "0"}, b"{}", 0.0)) as busy:
        url = busy.base_url if fault == "429" else f"http://127.0.0.1:{free_port()}/v1"
        root = _judge_project(home / "p", tiny_model_dir, {"backend": {
            "kind": "openai", "base_url": url, "model": "judge", "max_retries": 2,
            "backoff_s": 0.01}})
        assert _gate_candidate(root, ft.base_url) == 3
    err = capsys.readouterr().err
    assert url in err and ("HTTP 429" if fault == "429" else "connection failed") in err
    assert "Traceback" not in err


def test_a_real_model_served_as_judge_is_not_trusted_when_it_writes_no_json(
        home: Path, tiny_model_dir: Path, capsys):
    """`transformers serve` of a tiny random model: a real OpenAI-compatible judge whose
    replies are not verdicts. Each is asked again, recorded as unparseable, and the criterion
    says the judge is not trusted — never a pass. (Its context holds the judge prompt and the
    reminder: 2,048 positions; the test below is the 512 of the tiny model.)"""
    judge_model = build_tiny_llama(home / "judge-model", max_positions=2048)
    with serve_model(judge_model) as judge_url, FaultServer(_fine_tune) as ft:
        root = _judge_project(home / "p", tiny_model_dir, {"json_retries": 1, "backend": {
            "kind": "openai", "base_url": judge_url, "model": str(judge_model)}})
        assert _gate_candidate(root, ft.base_url) == 1
    verdict, section = _section(root)
    assert section["validation"]["unparsed"] == 16
    check = next(c for c in verdict.checks if c.kind == "judge_win_rate")
    assert check.status == "INCONCLUSIVE" and check.detail == "untrusted"


def test_a_served_judge_whose_context_is_too_short_fails_the_run_with_the_reason(
        home: Path, tiny_model_dir: Path, capsys):
    """`transformers serve` (5.25 and later) refuses a prompt longer than the model's context
    with HTTP 400 and the reason: the judge cannot read what it is asked, so the run fails
    (exit 3) and says why, never an unparsed verdict or a pass. Here the reminder that asks
    again for JSON, after the judge prompt and the first reply, outgrows 512 positions."""
    with serve_model(tiny_model_dir) as judge_url, FaultServer(_fine_tune) as ft:
        root = _judge_project(home / "p", tiny_model_dir, {"json_retries": 1, "backend": {
            "kind": "openai", "base_url": judge_url, "model": str(tiny_model_dir)}})
        assert _gate_candidate(root, ft.base_url) == 3
    err = " ".join(capsys.readouterr().err.split())
    assert "HTTP 400" in err and "takes at most 512" in err and "Traceback" not in err


def test_the_local_judge_reads_log_probs(home: Path, tiny_model_dir: Path, capsys):
    """The default judge is the project's own model in-process: verdicts from the log-probs of
    "A" and "B", nothing parsed. A tiny random model is no judge: it is measured, and says so."""
    with FaultServer(_fine_tune) as ft:
        root = _judge_project(home / "p", tiny_model_dir, {"backend": "local"})
        assert _gate_candidate(root, ft.base_url) in (0, 1)
    _, section = _section(root)
    validation = section["validation"]
    assert section["judge"]["mode"] == "logprobs" and validation["n"] == 8
    assert validation["unparsed"] == 0  # log-probs always give a verdict
    assert 0.0 <= validation["agreement"] <= 1.0


def test_bad_judge_suites_are_config_errors(home: Path, tiny_model_dir: Path, capsys):
    root = _judge_project(home / "p", tiny_model_dir, {"backend": "local"})
    suite = root / "suites" / "tiny_judge.yaml"
    config = yaml.safe_load(suite.read_text())
    config["criteria"][0]["max"] = 0.9
    suite.write_text(yaml.safe_dump(config))
    assert main(["check", "--project", str(root)]) == 2
    assert "judge_win_rate takes `min` only" in capsys.readouterr().err
    config["criteria"][0].pop("max")
    config["against"] = "nobody"
    suite.write_text(yaml.safe_dump(config))
    rows = _gold_rows()
    rows[3]["preferred"] = "both"
    gold = write_jsonl(root / "suites" / "data" / "gold.jsonl", rows)
    config["gold"]["sha256"] = sha256_file(gold)
    suite.write_text(yaml.safe_dump(config))
    assert main(["check", "--project", str(root)]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "gold pair 'gold-3'" in err and "gold.jsonl:4" in err
