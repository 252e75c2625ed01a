"""Verdicts as JUnit XML, the test-report format CI systems (GitHub, GitLab, Jenkins) display.

One ``<testsuite>`` named after the suite; one ``<testcase>`` per verdict (gates, then
regressions), with a ``<failure>`` whose message is the verdict's detail when it failed.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from wmbench._io import write_text_atomic
from wmbench.results import Results, ResultsDocument, Verdict


def junit_xml(results: Results | ResultsDocument, verdicts: list[Verdict]) -> str:
    """The JUnit XML document (with its XML declaration) for one run's verdicts (the run, or
    the results file of one)."""
    if isinstance(results, Results):
        name, duration = results.suite.name, results.duration_s
    else:
        record = results.suite
        name = (record.name if record is not None else None) or "wmbench"
        duration = results.duration_s or 0.0
    failures = sum(not verdict.passed for verdict in verdicts)
    suite = ET.Element(
        "testsuite",
        name=name,
        tests=str(len(verdicts)),
        failures=str(failures),
        errors="0",
        skipped="0",
        time=f"{duration:.3f}",
    )
    properties = ET.SubElement(suite, "properties")
    for key, value in (("device", results.device), ("started", results.started)):
        ET.SubElement(properties, "property", name=key, value=str(value))
    for verdict in verdicts:
        case = ET.SubElement(
            suite, "testcase", classname=f"wmbench.{name}", name=verdict.name, time="0"
        )
        if not verdict.passed:
            failure = ET.SubElement(case, "failure", message=verdict.detail, type=verdict.kind)
            failure.text = f"{verdict.detail}\nmargin: {verdict.margin:+.4f}"
    ET.indent(suite)
    body = ET.tostring(suite, encoding="unicode")
    return f'<?xml version="1.0" encoding="UTF-8"?>\n{body}\n'


def write_junit(path: str | Path, xml: str) -> Path:
    """Writes the XML to ``path`` atomically."""
    return write_text_atomic(path, xml)
