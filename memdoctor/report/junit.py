"""JUnit XML for CI systems: one testcase per gate check, failures carry the numbers."""

from __future__ import annotations

import socket
import xml.etree.ElementTree as ET
from datetime import UTC, datetime

from memdoctor.analysis.gate import GateResult


def gate_junit(result: GateResult, *, suite: str = "memdoctor gate", duration_s: float = 0.0) -> bytes:
    failures = result.failures
    root = ET.Element("testsuites", name=suite, tests=str(len(result.checks)), failures=str(len(failures)),
                      errors="0", time=f"{duration_s:.3f}")
    ts = ET.SubElement(root, "testsuite", name=suite, tests=str(len(result.checks)), failures=str(len(failures)),
                       errors="0", skipped="0", time=f"{duration_s:.3f}",
                       timestamp=datetime.now(UTC).isoformat(timespec="seconds"), hostname=socket.gethostname())
    for check in result.checks:
        case = ET.SubElement(ts, "testcase", classname="memdoctor.analysis.gate", name=check.name, time="0")
        if check.passed:
            out = ET.SubElement(case, "system-out")
            out.text = check.message
        else:
            failure = ET.SubElement(case, "failure", message=check.message, type=f"memdoctor.{check.name}")
            failure.text = check.message
    if result.notes:
        out = ET.SubElement(ts, "system-out")
        out.text = "\n".join(result.notes)
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"


def write_junit(path: str, data: bytes) -> None:
    """The whole file at once, never through a link another user could plant (memdoctor/output_files.py)."""
    from memdoctor.output_files import replace_output

    replace_output(path, lambda fh: fh.write(data), mode=0o644)
