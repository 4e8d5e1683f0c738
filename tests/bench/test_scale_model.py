"""The scale model of the change feed (bench/scale_model.py): its formulas against what storage
served in benchmark 3's setup at one and two processes, and its headline against the READMEs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bench import scale_model as sm

ROOT = Path(__file__).resolve().parents[2]
# Stated in bench/README.md: counts over 14 s windows on a shared 2-core machine, where a tick
# runs a little longer than WATCH_POLL_SECONDS (the read's own time). Measured: 0-5 % off.
TOLERANCE = 0.15


# --- the real thing, small: two systems (before, now) x one then two hosts ---------------------


@pytest.fixture(scope="module")
def measured(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("scale")
    command = [sys.executable, "-m", "bench.scale_model", "--measure", "--out", str(out)]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=150)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    data: dict[str, Any] = json.loads((out / "scale_model_measured.json").read_text())
    return data


@pytest.mark.bench
def test_the_model_holds_to_what_storage_served_at_one_and_two_processes(measured: dict[str, Any]) -> None:
    rows = measured["rows"]
    seen = {(r["design"], r["processes"]) for r in rows}
    assert seen == {(d.name, n) for d in (sm.LEGACY, sm.CURRENT) for n in (1, 2)}
    quantities = {r["quantity"] for r in rows}
    assert {"feed reads/s", "feed rows read/s", "reconciliations/s", "writer requests/s"} <= quantities
    assert {"feed partition entities/s", "account requests/s", "table requests (hosts' counters)"} <= quantities
    off = [r for r in rows if r["measured"] is None or abs(r["ratio"] - 1) > TOLERANCE]
    assert not off, "model and measurement disagree:\n" + "\n".join(map(str, off))


@pytest.mark.bench
def test_the_high_water_mark_reads_fewer_rows_for_the_same_requests(measured: dict[str, Any]) -> None:
    def figure(design: sm.Design, processes: int, quantity: str) -> float:
        row = next(
            r
            for r in measured["rows"]
            if (r["design"], r["processes"], r["quantity"]) == (design.name, processes, quantity)
        )
        return float(row["measured"])

    for processes in (1, 2):
        before = figure(sm.LEGACY, processes, "feed rows read/s")
        now = figure(sm.CURRENT, processes, "feed rows read/s")
        assert now < 0.7 * before, (before, now)  # the model: 2.96 rows per change instead of 5
        reads = figure(sm.CURRENT, processes, "feed reads/s") / figure(sm.LEGACY, processes, "feed reads/s")
        assert 0.9 < reads < 1.1
    # each process reads every change: two processes read twice the rows of one
    ratio = figure(sm.CURRENT, 2, "feed rows read/s") / figure(sm.CURRENT, 1, "feed rows read/s")
    assert 1.8 < ratio < 2.2


# --- the model itself ------------------------------------------------------------------------


def test_the_targets_are_the_published_ones() -> None:
    assert sm.TARGETS.partition_entities_per_s == 2_000
    assert sm.TARGETS.account_requests_per_s == 20_000
    assert sm.TARGETS.source.startswith("https://learn.microsoft.com/")


def test_rows_read_per_change_follow_the_read_windows() -> None:
    # Before: every read spans a tick and the skew: (0.75 + 3) / 0.75 = 5 reads of each row.
    assert sm.feed_reads(sm.LEGACY, 1.0).entities == pytest.approx(5.0)
    # Now: 7 reads over a tick and the overlap, 1 sweep over 8 ticks and the skew, per 6 s.
    assert sm.feed_reads(sm.CURRENT, 1.0).entities == pytest.approx((7 * 1.25 + 6 + 3) / 6)
    for design in (sm.LEGACY, sm.CURRENT):
        assert sm.feed_reads(design, 1.0).requests == pytest.approx(1 / 0.75)
        # a page holds 1,000 rows: a sweep over 9 s of 200 changes/s takes two requests
    assert sm.feed_reads(sm.CURRENT, 200.0).requests > sm.feed_reads(sm.CURRENT, 1.0).requests


def test_the_design_is_the_code_as_it_runs() -> None:
    from notify.watcher import OVERLAP_SECONDS, SWEEP_SECONDS
    from settings import Settings

    assert sm.CURRENT.overlap == OVERLAP_SECONDS and sm.CURRENT.sweep == SWEEP_SECONDS
    assert sm.CURRENT.tick == Settings.model_fields["watch_poll_seconds"].default
    assert sm.CURRENT.reconcile == Settings.model_fields["watch_reconcile_seconds"].default


def test_the_limit_moves_out_and_stays_at_the_feed_partition() -> None:
    for rate in (1, 10, 100):
        before, now = sm.max_instances(rate, sm.LEGACY), sm.max_instances(rate, sm.CURRENT)
        assert now > 1.6 * before, (rate, before, now)
        assert sm.load(sm.Workload(now + 1, rate), sm.CURRENT).binding()[0] == "feed partition"
        assert sm.load(sm.Workload(now, rate), sm.CURRENT).within()
    assert sm.max_instances(1000, sm.CURRENT) == 0  # one instance's reads and the writes are past it


def test_service_bus_standard_is_throttled_before_the_feed_is() -> None:
    # 1,000 credits/s: a send, and per subscription a filter evaluation and a receive
    top = sm.headline(sm.CURRENT)
    at_limit = {o["option"]: o for o in sm.beyond(sm.Workload(top["instances"], top["changes_per_s"]))}
    assert at_limit["table feed (as built)"]["fits"]
    assert not at_limit["Service Bus Standard topic"]["fits"]
    assert at_limit["Redis pub/sub (Managed Redis B0)"]["fits"]


def test_the_readmes_state_the_models_headline() -> None:
    top = sm.headline(sm.CURRENT)
    before = sm.headline(sm.LEGACY)
    times = "\N{MULTIPLICATION SIGN}"
    stated = f"{top['instances']:,} instances {times} {top['changes_per_s']:,} change"
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Scaling out", 1)[1].split("\n## ", 1)[0]
    assert stated in section, f"README 'Scaling out' should state {stated!r}"
    assert f"{before['instances']:,} {times} {before['changes_per_s']:,}" in section
    for rate in (10, 100):
        assert f"{sm.max_instances(rate, sm.CURRENT):,} at {rate:,}" in section
    bench = (ROOT / "bench" / "README.md").read_text()
    assert "python -m bench.scale_model" in bench and f"within **{TOLERANCE * 100:.0f} %**" in bench
