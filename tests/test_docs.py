"""The READMEs point at tests that exist: a promise's proof cannot silently move away."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.infra.project import cost_model

ROOT = Path(__file__).resolve().parents[1]
DOCS = ["README.md", "bench/README.md", "client/README.md", "infra/README.md", "docs/observability.md", "docs/cost.md"]
# `tests/a/test_b.py`, optionally `::test_name` (a trailing `…` or `_…` means "starting with")
REFERENCE = re.compile(r"(tests/[\w/]+\.py)(?:::(\w+)(…)?)?")
SHORT = re.compile(r"`(…/)?(test_\w+\.py)(?:::(\w+)(…)?)?`")


def _references() -> list[tuple[str, str, str | None, bool]]:
    found = []
    for doc in DOCS:
        text = (ROOT / doc).read_text()
        for m in REFERENCE.finditer(text):
            found.append((doc, m.group(1), m.group(2), bool(m.group(3))))
    return found


@pytest.mark.parametrize(("doc", "path", "name", "prefix"), _references())
def test_each_referenced_test_exists(doc, path, name, prefix):
    file = ROOT / path
    assert file.is_file(), f"{doc} names {path}, which does not exist"
    if name:
        names = re.findall(r"^(?:async )?def (test_\w+)", file.read_text(), re.M)
        wanted = name.rstrip("_")
        ok = any(n.startswith(wanted) for n in names) if prefix else name in names
        assert ok, f"{doc} names {path}::{name}, which is not a test there"


def test_short_references_name_an_existing_test_file():
    """`…/test_x.py` and bare `test_x.py` mentions: some file of that name exists under tests/."""
    files = {p.name for p in (ROOT / "tests").rglob("test_*.py")}
    for doc in DOCS:
        for m in SHORT.finditer((ROOT / doc).read_text()):
            assert m.group(2) in files, f"{doc} names {m.group(2)}, which does not exist"


def test_the_hidden_tab_return_figures_quoted_are_the_committed_benchmarks() -> None:
    """README, client/README.md and docs/cost.md quote bench.hidden_return (what a paused tab's
    return costs) and the cost model's pause figures; the quotes follow the results."""
    results = json.loads((ROOT / "bench" / "results" / "hidden_return.json").read_text())
    paused = [row for row in results["rows"] if row["paused"] == 1.0]
    assert paused, "some cell paused"
    p50 = f"{min(r['p50_ms'] for r in paused):.0f}{{}}{max(r['p50_ms'] for r in paused):.0f}"
    worst = f"{max(r['max_ms'] for r in paused):.0f} ms"
    short = [r for r in paused if r["pause_ms"] == cost_model.HIDDEN_PAUSE_SECONDS * 1000]
    held = (
        f"{max(r['stream_s'] for r in short):.1f} s, against up to {max(r['stream_s'] for r in results['rows']):.1f} s"
    )
    assert all(r["return_kinds"] == "stream" for r in paused)  # "one request on return"

    texts = {
        doc: " ".join((ROOT / doc).read_text().split()) for doc in ("README.md", "client/README.md", "docs/cost.md")
    }
    en_dash = "\u2013"  # the READMEs' ranges
    assert p50.format(en_dash) in texts["README.md"] and held in texts["README.md"]
    assert p50.format(en_dash) in texts["client/README.md"]
    assert p50.format("-") in texts["docs/cost.md"] and f"max {worst}" in texts["docs/cost.md"]

    typical = next(load for load in cost_model.REFERENCE_LOADS if load.name == "typical")
    b1 = cost_model.b1_flat()
    now = cost_model.monthly_cost(typical).total / b1
    before = cost_model.monthly_cost(typical, cost_model.Deployment(hidden_pause_seconds=30.0)).total / b1
    assert f"from {before:.0%} to {now:.0%} of B1's price".replace("%", " %") in texts["README.md"]
    assert f"unchanged at {before:.0%} of B1; with 5 s it is {now:.0%}".replace("%", " %") in texts["client/README.md"]
