"""The failure vocabulary (jobs/failures.py) is the one the docs list."""

import re
from pathlib import Path

from jobs.failures import Failure
from telemetry.metrics import MetricName

ROOT = Path(__file__).resolve().parents[2]


def test_each_failure_has_its_message():
    assert Failure.EXHAUSTED.message(5) == "failed after 5 attempts"
    assert Failure.TIMED_OUT.message() == "timed out" and Failure.UNQUEUED.message() == "could not be queued"
    assert all(f.message(3) and f.meaning for f in Failure)


def test_the_docs_list_the_failure_reasons_of_the_code():
    """One vocabulary: the README and docs/observability.md say the same."""
    root = ROOT
    readme = " ".join((root / "README.md").read_text().split())
    listed = re.search(r"failures by reason \(([^:]+):", readme)
    assert listed, "the README's Observability paragraph lists the reasons"
    assert re.findall(r"`(\w+)`", listed.group(1)) == [f.value for f in Failure]
    messages = re.search(r"a short `message` \(([^:]+):", readme)
    assert messages
    assert set(re.findall(r"`([^`]+)`", messages.group(1))) == {Failure.EXHAUSTED.message(5)} | {
        f.message() for f in Failure if f is not Failure.EXHAUSTED
    }
    table = (root / "docs" / "observability.md").read_text()
    row = next(line for line in table.splitlines() if line.startswith(f"| `{MetricName.JOBS_FAILED}`"))
    assert [m.group(1) for m in re.finditer(r"`(\w+)` \(([^)]+)\)", row)] == [f.value for f in Failure]
    assert all(f"`{f.value}` ({f.meaning})" in row for f in Failure)
