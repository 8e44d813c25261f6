"""Output that is not a terminal (a pipe, a log file, CI): wide tables, plain timed progress lines,
nothing printed after the progress closes, and no library chatter."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from rich.console import Console
from rich.progress import Progress

from evalgate.errors import ConfigError
from evalgate.report.baseline import render_baseline
from evalgate.util.progress import PlainProgress, make_progress
from evalgate.util.terminal import PLAIN_WIDTH, make_console
from tests.helpers import write_project

LONG_CRITERION = "all_four_fields_exact_match_together_with_the_order_id"
LONG_SYSTEMS = ["prompt_only_baseline", "few_shot_eight_examples", "rag_bm25_top4_chunks",
                "finetune_sft_then_dpo_run"]


def _wait_for(predicate, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


# -- progress --------------------------------------------------------------------------------


def test_non_tty_progress_prints_periodic_lines_then_nothing_after_close(monkeypatch):
    monkeypatch.setenv("EVALGATE_PROGRESS_INTERVAL", "0.05")
    out = io.StringIO()
    progress = make_progress(make_console(file=out))
    assert isinstance(progress, PlainProgress) and isinstance(progress, Progress)
    with progress:
        gen = progress.add_task("generating prompt × triage", total=10, info="42 tok/s")
        progress.advance(gen, 3)
        running = ["generating prompt × triage: 3/10 ", "ETA ", "/s", "42 tok/s"]
        assert _wait_for(lambda: sum(all(p in line for p in running)
                                     for line in out.getvalue().splitlines()) >= 2), out.getvalue()
        progress.advance(gen, 7)
        assert "generating prompt × triage: done 10/10 in " in out.getvalue()
        scoring = progress.add_task("scoring triage", total=4, info="")
        progress.advance(scoring, 1)
        assert _wait_for(lambda: "scoring triage: 1/4 " in out.getvalue())
    closed = out.getvalue()
    # Finished tasks are not repeated on the timer, and no line says anything about a bar.
    lines = closed.splitlines()
    assert sum("generating prompt × triage: done" in line for line in lines) == 1
    assert "━" not in closed and "\x1b[" not in closed
    # Nothing after close: not the timer, not a late update, not a final render of the bars.
    progress.advance(scoring, 3)
    progress.tick()
    time.sleep(0.3)
    assert out.getvalue() == closed


def test_plain_progress_line_has_done_total_rate_and_eta(monkeypatch):
    monkeypatch.setenv("EVALGATE_PROGRESS_INTERVAL", "3600")  # the timer stays out of the way
    out = io.StringIO()
    now = [0.0]
    with make_progress(make_console(file=out)) as progress:
        progress.get_time = lambda: now[0]
        task = progress.add_task("sft", total=100, info="loss 1.234")
        now[0] = 5.0
        progress.advance(task, 10)
        now[0] = 10.0
        progress.advance(task, 10)  # 20 steps in 10 s: 2/s, 80 left: 40 s
        progress.tick()
        spinner = progress.add_task("Converting x.gguf", total=None, info="")
        now[0] = 50.0
        progress.tick()  # 20 in 50 s: 0.4/s, 80 left: 200 s
        progress.remove_task(spinner)
        resumed = progress.add_task("dpo", total=10, completed=4, info="")
        now[0] = 60.0
        progress.update(resumed, completed=6)  # 2 steps in this session's 10 s: 4 left, 20 s
        progress.tick()
        progress.update(resumed, completed=10)
        progress.update(task, completed=100)
    assert out.getvalue().splitlines() == [
        "sft: 20/100 · 2.00/s · elapsed 0:00:10 · ETA 0:00:40 · loss 1.234",
        "sft: 20/100 · 0.40/s · elapsed 0:00:50 · ETA 0:03:20 · loss 1.234",
        "Converting x.gguf: running 0:00:40",
        "Converting x.gguf: ended after 0:00:40",
        "sft: 20/100 · 0.33/s · elapsed 0:01:00 · ETA 0:04:00 · loss 1.234",
        "dpo: 6/10 · 0.20/s · elapsed 0:00:10 · ETA 0:00:20",
        "dpo: done 10/10 in 0:00:10 · 0.60/s",
        "sft: done 100/100 in 0:01:00 · 1.67/s · loss 1.234",
    ]


def test_terminal_keeps_rich_bars():
    terminal = Console(file=io.StringIO(), force_terminal=True)
    progress = make_progress(terminal)
    assert type(progress) is Progress
    assert progress.console is terminal


@pytest.mark.parametrize("value", ["0", "-1", "soon", "inf"])
def test_bad_progress_interval_says_what_to_set(monkeypatch, value):
    monkeypatch.setenv("EVALGATE_PROGRESS_INTERVAL", value)
    with pytest.raises(ConfigError, match="EVALGATE_PROGRESS_INTERVAL"):
        make_progress(make_console(file=io.StringIO()))


# -- width -----------------------------------------------------------------------------------


def _baseline_record():
    figures = {"value": 0.165, "low": 0.12, "high": 0.223, "status": "FAIL"}
    runs = {name: {"criteria": {LONG_CRITERION: figures}, "retrieval": {}, "warnings": []}
            for name in LONG_SYSTEMS}
    return SimpleNamespace(suites={"triage": {
        "runs": runs,
        "criteria": {LONG_CRITERION: {"best": LONG_SYSTEMS[1], "bound": "≥ 0.8, beat best"}},
    }})


def _names_whole(text: str) -> bool:
    return all(name in text for name in [LONG_CRITERION, *LONG_SYSTEMS])


def test_table_to_a_pipe_keeps_long_names_whole(monkeypatch):
    monkeypatch.delenv("COLUMNS", raising=False)
    # What rich does on its own when the output is not a terminal: 80 columns, names folded.
    narrow = Console(file=io.StringIO())
    narrow.print(render_baseline(_baseline_record()))
    assert narrow.width == 80 and not _names_whole(narrow.file.getvalue())

    console = make_console(file=io.StringIO())
    console.print(render_baseline(_baseline_record()))
    assert console.width == PLAIN_WIDTH
    assert _names_whole(console.file.getvalue())


def test_columns_sets_the_width_of_plain_output(monkeypatch):
    monkeypatch.setenv("COLUMNS", "123")
    assert make_console(file=io.StringIO()).width == 123
    monkeypatch.setenv("COLUMNS", "wide")
    assert make_console(file=io.StringIO()).width == PLAIN_WIDTH


# -- the CLI with both streams redirected -----------------------------------------------------


def test_eval_piped_to_files_prints_whole_names_and_plain_progress(tmp_path: Path,
                                                                   tiny_model_dir: Path):
    write_project(tmp_path, str(tiny_model_dir), suite_overrides={"criteria": [
        {"name": LONG_CRITERION, "metric": "exact_match", "reference": "expected",
         "json_keys": ["intent", "order_id"], "min": 0.5}]})
    env = {**os.environ, "EVALGATE_HOME": str(tmp_path / "home"),
           "EVALGATE_PROGRESS_INTERVAL": "0.2"}
    env.pop("COLUMNS", None)
    done = subprocess.run(
        [sys.executable, "-c", "import sys; from evalgate.cli.main import main; sys.exit(main())",
         "eval"], check=False, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 1, done.stderr  # a random model fails the criterion
    assert LONG_CRITERION in done.stdout, done.stdout
    err = done.stderr.splitlines()
    assert any(line.startswith("generating prompt × tiny: done 6/6 in ") for line in err), err
    assert any(line.startswith("scoring tiny: done 1/1 in ") for line in err), err
    # Only evalgate's own lines: no bars, no Python warnings from the libraries.
    assert "━" not in done.stderr and "\x1b[" not in done.stderr
    assert not any("Warning:" in line for line in err), err


# -- library noise -----------------------------------------------------------------------------

_NOISY_IMPORT = "import peft  # imports bitsandbytes, which logs while importing"
_QUIET = "from evalgate.util.quiet import quiet_libraries; quiet_libraries(); "


def _python(code: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items()
           if k not in ("TRANSFORMERS_VERBOSITY", "DATASETS_VERBOSITY", "PYTHONWARNINGS")}
    return subprocess.run([sys.executable, "-c", code], check=False, capture_output=True,
                          text=True, env=env, timeout=300)


def test_quiet_libraries_silences_noise_but_keeps_errors():
    code = _QUIET + """
import logging, warnings
import transformers
logging.getLogger("bitsandbytes.backends.cpu.ops").warning("NOISE bnb warning")
logging.getLogger("bitsandbytes.backends.cpu.ops").error("KEPT bnb error")
transformers.logging.get_logger("transformers.modeling_utils").warning("NOISE tf warning")
transformers.logging.get_logger("transformers.modeling_utils").error("KEPT tf error")
warnings.warn_explicit("NOISE tf future", FutureWarning, "modeling_utils.py", 1,
                       module="transformers.modeling_utils")
warnings.warn_explicit("NOISE evalgate call", FutureWarning, "run.py", 1, module="evalgate.x")
warnings.warn_explicit("KEPT user warning", UserWarning, "user.py", 1, module="mymetric")
"""
    done = _python(code)
    assert done.returncode == 0, done.stderr
    assert "NOISE" not in done.stderr, done.stderr
    assert all(kept in done.stderr for kept in ("KEPT bnb error", "KEPT tf error",
                                                 "KEPT user warning")), done.stderr


def test_quiet_libraries_before_peft_drops_the_bitsandbytes_kernel_message():
    loud = _python(_NOISY_IMPORT)
    if "gemm_4bit_forward" not in loud.stderr:
        pytest.skip("bitsandbytes does not log the kernels-community message on this CPU")
    quiet = _python(_QUIET + _NOISY_IMPORT)
    assert quiet.returncode == 0 and quiet.stderr == "", quiet.stderr
