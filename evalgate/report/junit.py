"""A verdict as JUnit XML: one testcase per criterion check. FAIL and INCONCLUSIVE are both
failures (both block promotion); the message carries value, bound, interval and baseline."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from evalgate.checks import Status
from evalgate.report.common import check_details
from evalgate.report.wording import reason


def render_junit(verdict) -> str:
    root = ET.Element("testsuites", name="evalgate", tests=str(len(verdict.checks)),
                      failures=str(sum(c.status is not Status.PASS for c in verdict.checks)))
    groups = {suite: [c for c in verdict.checks if c.suite == suite] for suite in verdict.suites}
    gate_wide = [c for c in verdict.checks if c.suite not in verdict.suites]
    if gate_wide:
        groups["gate"] = gate_wide
    for suite, checks in groups.items():
        element = ET.SubElement(root, "testsuite", name=f"evalgate.{suite}",
                                tests=str(len(checks)),
                                failures=str(sum(c.status is not Status.PASS for c in checks)),
                                errors="0", skipped="0", timestamp=verdict.created_at)
        props = ET.SubElement(element, "properties")
        for key, value in (("decision", verdict.decision),
                           ("candidate", verdict.candidate.get("kind", "trained")),
                           ("adapter_sha256", verdict.adapter.get("sha256") or ""),
                           ("suite_config_sha256",
                            verdict.suites.get(suite, {}).get("config_sha256", "")),
                           ("allow_changed_criteria", str(verdict.allow_changed_criteria))):
            ET.SubElement(props, "property", name=key, value=value)
        for check in checks:
            case = ET.SubElement(element, "testcase", classname=f"evalgate.{suite}",
                                 name=f"{check.criterion}[{check.kind}]", time="0")
            details = check_details(check)
            if check.status is not Status.PASS:
                failure = ET.SubElement(case, "failure", type=check.status.value,
                                        message=f"{check.status}: {reason(check)}")
                failure.text = details
            else:
                ET.SubElement(case, "system-out").text = details
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
