"""Markdown, HTML and JUnit renderings of a verdict (no model); `demo_verdict` also feeds
scripts/screenshot_report.py."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import replace

from evalgate.gate.decide import STATISTICS, decide_criterion, overall
from evalgate.gate.verdict import Verdict
from evalgate.report.gate_console import render_verdict
from evalgate.report.html import render_html
from evalgate.report.junit import render_junit
from evalgate.report.markdown import render_markdown
from tests.gate_helpers import make_record, spec


def demo_verdict() -> Verdict:
    """Triage: a clear win on fields, a non-inferior schema rate; policy QA: a guard rail
    that is inconclusive on 40 examples."""
    checks = []
    base = make_record("few_shot", {"fields": [1, 0, 0, 1] * 25, "schema": [1] * 90 + [0] * 10})
    cand = make_record("triage-dpo", {"fields": [1, 1, 1, 0] * 25,
                                      "schema": [1] * 95 + [0] * 5})
    checks += decide_criterion(spec("fields", min=0.6, beat=0.05, suite="triage"), cand,
                               ("few_shot", base))
    checks += decide_criterion(spec("schema", min=0.9, max_drop=0.02, suite="triage"), cand,
                               ("few_shot", base))
    qa_base = make_record("rag", {"answer": [1, 0] * 20}, suite="policy_qa")
    qa_cand = make_record("triage-dpo", {"answer": [1, 0] * 19 + [0, 0]}, suite="policy_qa")
    checks += decide_criterion(spec("answer", min=0.3, max_drop=0.1, suite="policy_qa"), qa_cand,
                               ("rag", qa_base))
    decision = overall(checks)
    h = "ab" * 32
    return Verdict(
        decision=decision, checks=tuple(checks),
        created_at="2026-01-01T00:00:00+00:00", evalgate_version="0.1.0",
        adapter={"run_id": "3f9c2a" * 5, "name": "triage", "stage": "dpo",
                 "path": "adapters/3f9c2a/dpo", "sha256": h, "files": {}},
        manifest={"path": "adapters/3f9c2a/manifest.json", "sha256": h},
        base_model={"ref": "smollm2-135m-instruct", "identity": h},
        suites={s: {"path": f"suites/{s}.yaml", "config_sha256": h, "data_sha256": h,
                    "criteria": {}} for s in ("triage", "policy_qa")},
        criteria=(), records={s: {"candidate": {"path": f"reports/runs/{s}/x.json",
                                                "sha256": h, "run_key": h}, "baselines": {}}
                              for s in ("triage", "policy_qa")},
        baseline_record={"path": "reports/baseline.json", "sha256": h},
        statistics={**STATISTICS, "resamples": 2000, "seed": 1, "alpha": 0.05},
        allow_changed_criteria=True,
        changed_criteria=("suite 'policy_qa': criterion 'answer' was added",))


def test_verdict_round_trips_through_json():
    verdict = demo_verdict()
    assert Verdict.from_json(verdict.to_json()) == verdict


def test_markdown_names_every_check_and_the_blockers():
    verdict = demo_verdict()
    text = render_markdown(verdict)
    assert f"**{verdict.decision}**" in text
    assert text.count("| triage/fields") == 2 and "## Blocking" in text
    assert "--allow-changed-criteria" in text and "more examples" in text


def test_html_is_self_contained_with_charts():
    html = render_html(demo_verdict())
    assert html.count("<svg") == 2 and "<style>" in html
    for external in ("<script", "<link", "src=", "url("):
        assert external not in html


def test_junit_has_one_testcase_per_check_with_figures():
    verdict = demo_verdict()
    root = ET.fromstring(render_junit(verdict).split("\n", 1)[1])
    cases = root.findall(".//testcase")
    assert len(cases) == len(verdict.checks)
    failures = root.findall(".//failure")
    assert len(failures) == sum(c.status != "PASS" for c in verdict.checks) > 0
    assert "candidate" in failures[0].text and "bound" in failures[0].text
    assert "best baseline" in failures[0].text


def _min_and_beat_verdict() -> Verdict:
    """One criterion with a `min` and a `beat_baseline` bound: two checks, one paired Δ."""
    base = make_record("few_shot", {"fields": [1, 0, 0, 1] * 25}, suite="triage")
    cand = make_record("triage-dpo", {"fields": [1, 1, 1, 0] * 25}, suite="triage")
    checks = decide_criterion(spec("fields", min=0.6, beat=0.0, suite="triage"), cand,
                              ("few_shot", base))
    assert [c.kind for c in checks] == ["min", "beat_baseline"]
    assert all(c.delta is not None and c.p_value is not None for c in checks)
    return replace(demo_verdict(), decision=overall(checks), checks=tuple(checks))


def test_delta_and_p_only_on_the_relative_row():
    verdict = _min_and_beat_verdict()
    beat = verdict.checks[1]
    delta, p = f"{beat.delta.value:+.3f}", f"{beat.p_value:.4f}"
    assert delta == "+0.250"

    rows = [line for line in render_markdown(verdict).splitlines()
            if line.startswith("| triage/fields")]
    assert len(rows) == 2
    min_cells = [c.strip() for c in rows[0].split(" | ")]
    beat_cells = [c.strip() for c in rows[1].split(" | ")]
    assert min_cells[1].startswith("min") and beat_cells[1].startswith("beat_baseline")
    assert min_cells[4:6] == ["", ""]  # Δ and McNemar p: empty on the min row
    assert beat_cells[4].startswith(delta + " [") and beat_cells[5] == p

    html_rows = re.findall(r'<tr class="main">(.*?)</tr>', render_html(verdict))
    assert len(html_rows) == 2
    assert delta not in html_rows[0] and p not in html_rows[0]
    assert delta in html_rows[1] and p in html_rows[1]

    from rich.console import Console

    console = Console(width=160, record=True, color_system=None)
    console.print(render_verdict(verdict))
    text = console.export_text()
    assert text.count(delta) == 1 and text.count("McNemar p") == 1
    # The min row shows a dash where Δ would be; the one Δ is on the beat_baseline row.
    first, second = [i for i, line in enumerate(text.splitlines()) if "triage/fields" in line]
    lines = text.splitlines()
    assert "min ≥ 0.6" in lines[first + 1] and "beat_baseline" in lines[second + 1]
    assert lines[first].split()[-2:] == ["—", "PASS"]
    assert delta in lines[second] and "McNemar p" in lines[second + 2]
