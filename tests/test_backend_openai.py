"""The `openai` backend against real servers on loopback: `transformers serve` for the same-outputs
check and the no-key-written check, a scripted server for every fault a client must survive."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from evalgate.cli.main import main
from tests.endpoints import FaultServer, completion, serve_model
from tests.helpers import example_rows, write_project
from tests.tiny import build_tiny_llama

SECRET = "sk-test-4f1c9e-never-write-me"
PROMPT = {"tiny": {"system": 'Answer with JSON like {"intent": "status"}.',
                   "user": "Ticket: {input}"}}


@pytest.fixture(scope="module")
def lively_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny model whose greedy outputs vary from prompt to prompt (large init), so equal
    outputs through two paths mean something."""
    return build_tiny_llama(tmp_path_factory.mktemp("lively") / "model", seed=3, hidden_size=32,
                            initializer_range=0.5)


@pytest.fixture(scope="module")
def served(lively_model: Path):
    with serve_model(lively_model) as base_url:
        yield base_url


def _project(root: Path, model: Path | str, rows: int = 10) -> Path:
    write_project(root, str(model), rows=example_rows(rows))
    return root


def _endpoint_system(root: Path, base_url: str, model: str, name: str = "served",
                     **backend) -> Path:
    path = root / "baselines" / f"{name}.yaml"
    path.write_text(yaml.safe_dump({
        "name": name, "kind": "prompt", "prompts": PROMPT,
        "backend": {"kind": "openai", "base_url": base_url, "model": model, **backend}}))
    return path


def _record(root: Path, system: str) -> dict:
    [path] = sorted((root / "reports" / "runs" / "tiny").glob(f"{system}-*.json"))
    return json.loads(path.read_text())


@pytest.fixture()
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("EVALGATE_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_local_and_endpoint_runs_give_the_same_outputs_and_share_no_cache(
        home: Path, served: str, lively_model: Path, capsys):
    root = _project(home / "p", lively_model)
    _endpoint_system(root, served, str(lively_model), concurrency=2)
    args = ["eval", "--project", str(root), "--suite", str(root / "suites/tiny.yaml")]
    assert main([*args, "--system", str(root / "baselines/prompt.yaml")]) == 1
    assert main([*args, "--system", str(root / "baselines/served.yaml")]) == 1
    out = capsys.readouterr().out
    # The endpoint run reused nothing the local run cached: the backends' identities differ.
    assert out.count("0 hits / 10 misses") == 2
    assert f"at {served}" in out and "openai endpoint" in out
    local, remote = _record(root, "prompt"), _record(root, "served")
    outputs = [e["output"] for e in local["examples"]]
    # Greedy on both sides, the same chat template, fp32: the same text, token for token.
    assert [e["output"] for e in remote["examples"]] == outputs
    assert len(set(outputs)) > 1, "the model must not answer every prompt alike"
    assert [e["prompt_tokens"] for e in remote["examples"]] == \
        [e["prompt_tokens"] for e in local["examples"]]
    assert [e["finish_reason"] for e in remote["examples"]] == \
        [e["finish_reason"] for e in local["examples"]]
    assert remote["model"]["backend"] == "openai" and remote["model"]["base_url"] == served
    assert local["run_key"] != remote["run_key"]
    # Run again: the endpoint's outputs come from the cache (no request needed).
    assert main([*args, "--system", str(root / "baselines/served.yaml")]) == 1
    assert "10 hits / 0 misses" in capsys.readouterr().out


def test_the_api_key_is_in_no_file_a_run_writes(home: Path, served: str, lively_model: Path,
                                                monkeypatch: pytest.MonkeyPatch, capsys):
    monkeypatch.setenv("EVALGATE_TEST_KEY", SECRET)
    root = _project(home / "p", lively_model, rows=4)
    _endpoint_system(root, served, str(lively_model), api_key_env="EVALGATE_TEST_KEY")
    code = main(["eval", "--project", str(root), "--system",
                 str(root / "baselines/served.yaml")])
    captured = capsys.readouterr()
    assert code == 1  # the random model fails the criteria; the run itself succeeded
    written = [p for folder in (root, home / "home") for p in folder.rglob("*") if p.is_file()]
    assert any(p.suffix == ".json" and "runs" in p.parts for p in written)
    assert any(p.name.endswith(".sqlite") or p.suffix in (".db", ".sqlite3")
               for p in written), [str(p) for p in written]
    for path in written:
        assert SECRET.encode() not in path.read_bytes(), path
    assert SECRET not in captured.out + captured.err


def test_missing_key_variable_is_a_config_error(home: Path, tiny_model_dir: Path, capsys,
                                                monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("EVALGATE_ABSENT_KEY", raising=False)
    root = _project(home / "p", tiny_model_dir, rows=2)
    system = _endpoint_system(root, "http://127.0.0.1:9/v1", "m", api_key_env="EVALGATE_ABSENT_KEY")
    assert main(["eval", "--project", str(root), "--system", str(system)]) == 2
    err = capsys.readouterr().err
    assert "EVALGATE_ABSENT_KEY is not set" in err and "backend.api_key_env" in err


def test_a_key_in_place_of_its_variable_name_is_refused(home: Path, tiny_model_dir: Path,
                                                        capsys):
    root = _project(home / "p", tiny_model_dir, rows=2)
    system = _endpoint_system(root, "http://127.0.0.1:9/v1", "m", api_key_env=SECRET)
    assert main(["eval", "--project", str(root), "--system", str(system)]) == 2
    err = capsys.readouterr().err
    assert "backend.api_key_env" in err and "never the key itself" in err
    assert "backend.openai" not in err  # the key as written, not pydantic's union tag


# -- faults ------------------------------------------------------------------------------------

FAST = {"max_retries": 3, "backoff_s": 0.01, "max_backoff_s": 0.02, "concurrency": 1}


def _run_against(home: Path, tiny_model_dir: Path, base_url: str, rows: int = 3,
                 **backend) -> tuple[Path, Path]:
    root = home / "p"
    if not root.exists():
        _project(root, tiny_model_dir, rows=rows)
    system = _endpoint_system(root, base_url, "scripted", **{**FAST, **backend})
    return root, system


def _eval(root: Path, system: Path) -> int:
    return main(["eval", "--project", str(root), "--system", str(system)])


def test_closed_port_fails_the_run_naming_the_endpoint(home: Path, tiny_model_dir: Path,
                                                       capsys):
    from tests.endpoints import free_port

    url = f"http://127.0.0.1:{free_port()}/v1"
    root, system = _run_against(home, tiny_model_dir, url)
    assert _eval(root, system) == 3
    err = capsys.readouterr().err
    assert url in err and "connection failed" in err and "after 4 attempts" in err
    assert "start the server" in err and "Traceback" not in err
    assert not (root / "reports" / "runs").exists()  # no record of a run that did not happen


def test_429_forever_gives_up_after_the_retries_honouring_retry_after(
        home: Path, tiny_model_dir: Path, capsys):
    with FaultServer(lambda n, body: (429, {"Retry-After": "0"}, b'{"error": {"message": '
                                      b'"slow down"}}', 0.0)) as server:
        root, system = _run_against(home, tiny_model_dir, server.base_url)
        assert _eval(root, system) == 3
    err = capsys.readouterr().err
    assert len(server.requests) == 4  # 1 + max_retries
    assert "HTTP 429: slow down" in err and "after 4 attempts" in err


def test_a_500_then_success_is_retried_and_cached(home: Path, tiny_model_dir: Path, capsys):
    def script(n: int, body: dict):
        if n == 1:
            return 500, {}, b'{"error": {"message": "overloaded"}}', 0.0
        return 200, {}, completion('{"intent": "status", "order_id": null}'), 0.0

    with FaultServer(script) as server:
        root, system = _run_against(home, tiny_model_dir, server.base_url)
        assert _eval(root, system) in (0, 1)
        assert len(server.requests) == 4  # the failed one once more, then the other two
        request = server.requests[-1]
        assert request["temperature"] == 0 and request["max_tokens"] == 8
        assert request["model"] == "scripted" and request["messages"][-1]["role"] == "user"
        assert server.headers[-1].get("authorization") == "Bearer not-needed"
    record = _record(root, "served")
    assert [e["output"] for e in record["examples"]] == \
        ['{"intent": "status", "order_id": null}'] * 3
    assert record["criteria"][0]["value"] == 0.0  # order_id null ≠ the reference: scored


@pytest.mark.parametrize("body", [b'{"unexpected": true}', b"<html>gateway</html>",
                                  json.dumps({"choices": []}).encode()])
def test_malformed_responses_are_retried_then_fail_and_nothing_is_cached(
        home: Path, tiny_model_dir: Path, capsys, body: bytes):
    with FaultServer(lambda n, _: (200, {}, body, 0.0)) as server:
        root, system = _run_against(home, tiny_model_dir, server.base_url)
        assert _eval(root, system) == 3
        assert len(server.requests) == 4
        err = capsys.readouterr().err
        assert "malformed" in err and "Traceback" not in err
        # Nothing was cached as an answer: the same endpoint, healthy now, gets every example.
        server.requests.clear()
        server.script = lambda n, _: (200, {}, completion("ok"), 0.0)
        assert _eval(root, system) in (0, 1)
        assert len(server.requests) == 3
    assert "0 hits / 3 misses" in capsys.readouterr().out


def test_a_request_slower_than_the_timeout_fails_the_run(home: Path, tiny_model_dir: Path,
                                                         capsys):
    with FaultServer(lambda n, _: (200, {}, completion("late"), 2.0)) as server:
        root, system = _run_against(home, tiny_model_dir, server.base_url, timeout_s=0.3,
                                    max_retries=1)
        assert _eval(root, system) == 3
    err = capsys.readouterr().err
    assert "timeout" in err and "after 2 attempts" in err


def test_a_run_that_fails_midway_keeps_its_finished_outputs(home: Path, tiny_model_dir: Path,
                                                            capsys):
    def script(n: int, body: dict):
        if n <= 2:
            return 200, {}, completion(f"answer {n}"), 0.0
        return 400, {}, b'{"error": {"message": "prompt too long"}}', 0.0

    with FaultServer(script) as server:
        root, system = _run_against(home, tiny_model_dir, server.base_url, rows=5)
        assert _eval(root, system) == 3
        assert len(server.requests) == 3  # a 400 is not retried
        err = capsys.readouterr().err
        assert "HTTP 400: prompt too long" in err and "(not retried)" in err
        server.requests.clear()
        server.script = lambda n, _: (200, {}, completion("later"), 0.0)
        assert _eval(root, system) in (0, 1)
        assert len(server.requests) == 3  # the two finished answers came from the cache
    assert "2 hits / 3 misses" in capsys.readouterr().out
    outputs = [e["output"] for e in _record(root, "served")["examples"]]
    assert sorted(outputs) == ["answer 1", "answer 2", "later", "later", "later"]


def test_each_answer_is_handed_over_as_soon_as_it_arrives(tmp_path: Path):
    """The caller caches answers as they finish: a slow request does not hold back the others
    (a run interrupted while it waits keeps them)."""
    import time

    from evalgate.models.engine import GenerationParams
    from evalgate.systems.backends import OpenAIBackend
    from evalgate.systems.prompting import System, SystemConfig

    def script(n: int, body: dict):
        slow = body["messages"][0]["content"] == "slow"
        return 200, {}, completion(body["messages"][0]["content"]), 1.5 if slow else 0.0

    with FaultServer(script) as server:
        system = System(path=None, config=SystemConfig(name="s", backend={
            "kind": "openai", "base_url": server.base_url, "model": "m", "concurrency": 2}))
        backend = OpenAIBackend(system)
        arrived: list[tuple[int, float]] = []
        start = time.monotonic()
        outputs = backend.generate(
            [backend.render([{"role": "user", "content": text}]) for text in ("slow", "fast")],
            GenerationParams(max_new_tokens=4),
            on_result=lambda i, g: arrived.append((i, time.monotonic() - start)))
    assert [o.text for o in outputs] == ["slow", "fast"]
    assert [i for i, _ in arrived] == [1, 0]
    assert arrived[0][1] < 1.0 < arrived[1][1]
