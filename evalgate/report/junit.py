"""A verdict as JUnit XML: one testcase per criterion check. FAIL and INCONCLUSIVE are both
failures (both block promotion); the message carries value, bound, interval and baseline."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from evalgate.report.common import check_details


def render_junit(verdict) -> str:
    root = ET.Element("testsuites", name="evalgate", tests=str(len(verdict.checks)),
                      failures=str(sum(c.status != "PASS" for c in verdict.checks)))
    for suite in verdict.suites:
        checks = [c for c in verdict.checks if c.suite == suite]
        element = ET.SubElement(root, "testsuite", name=f"evalgate.{suite}",
                                tests=str(len(checks)),
                                failures=str(sum(c.status != "PASS" for c in checks)),
                                errors="0", skipped="0", timestamp=verdict.created_at)
        props = ET.SubElement(element, "properties")
        for key, value in (("decision", verdict.decision),
                           ("adapter_sha256", verdict.adapter["sha256"]),
                           ("suite_config_sha256", verdict.suites[suite]["config_sha256"]),
                           ("allow_changed_criteria", str(verdict.allow_changed_criteria))):
            ET.SubElement(props, "property", name=key, value=value)
        for check in checks:
            case = ET.SubElement(element, "testcase", classname=f"evalgate.{suite}",
                                 name=f"{check.criterion}[{check.kind}]", time="0")
            details = check_details(check)
            if check.status != "PASS":
                failure = ET.SubElement(case, "failure", type=check.status,
                                        message=f"{check.status}: {check.reason}")
                failure.text = details
            else:
                ET.SubElement(case, "system-out").text = details
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
