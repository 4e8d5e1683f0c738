"""Smoke tests: every benchmark script runs end to end at a tiny size and writes a well-formed result.

They check the shape and that something was really counted, never a speed: speed is what
the benchmarks themselves report. The scripts run at once (each with its own Azurite
and hosts), so the module costs about as long as the slowest one.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.bench

ROOT = Path(__file__).resolve().parents[2]

TINY = {
    "requests_per_job": ["--jobs", "2", "--min-seconds", "1", "--max-seconds", "2", "--steps", "1", "--interval", "1"],
    "latency": ["--rounds", "1", "--jobs", "2", "--seconds", "2", "--steps", "4", "--interval", "1"],
    "storage_ops": ["--streams", "1,3", "--window", "2", "--naive-window", "1", "--churn-streams", "0"],
    "capacity": [
        *("--streams", "20", "--idle", "1", "--events", "1", "--warmup", "5"),
        *("--gap", "0.1", "--settle", "0.2", "--keepalive", "0.5"),
    ],
    "start_throughput": ["--concurrency", "1,4", "--starts", "8", "--rounds", "1", "--cost-starts", "3"],
    "log_volume": ["--jobs", "2", "--streams", "1", "--window", "3", "--lifetime", "2"],
}


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    out = tmp_path_factory.mktemp("bench")
    answers: dict[str, dict[str, Any]] = {}

    def run(names: list[str], budget: float) -> None:
        procs = {}
        for name in names:
            log = open(out / f"{name}.log", "wb")  # noqa: SIM115 (closed below)
            command = [sys.executable, "-m", f"bench.{name}", "--out", str(out), *TINY[name]]
            procs[name] = (subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT), log)
        deadline = time.monotonic() + budget
        for name, (proc, log) in procs.items():
            try:
                code = proc.wait(max(1.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                code = proc.wait(10)
            log.close()
            text = (out / f"{name}.log").read_text(errors="replace")
            answers[name] = {"code": code, "log": text, "dir": out}

    # Four at once; the capacity run alone afterwards, so its streams are not starved of CPU
    # by the others (its fan-out check counts every stream).
    run([name for name in TINY if name != "capacity"], 150)
    run(["capacity"], 90)
    return answers


def load(results: dict[str, dict[str, Any]], name: str) -> dict[str, Any]:
    answer = results[name]
    assert answer["code"] == 0, f"bench.{name} failed:\n{answer['log'][-3000:]}"
    data = json.loads((answer["dir"] / f"{name}.json").read_text())
    assert data["benchmark"] == name
    machine = data["machine"]
    assert machine["cores"] >= 1 and machine["cpu"] and machine["python"] and machine["os"]
    assert data["rows"], "no rows"
    for row in data["rows"]:
        assert set(data["columns"]) <= set(row), f"row lacks columns: {set(data['columns']) - set(row)}"
    with open(answer["dir"] / f"{name}.csv", newline="") as f:
        reader = csv.DictReader(f)
        assert reader.fieldnames == data["columns"]
        assert len(list(reader)) == len(data["rows"])
    assert data["columns"][0] in answer["log"], "the table was not printed"
    return data


def test_requests_per_job(results: dict[str, dict[str, Any]]) -> None:
    data = load(results, "requests_per_job")
    rows = {r["strategy"]: r for r in data["rows"]}
    assert set(rows) == {
        "fixed 5s poll",
        "backoff poll",
        "backoff, no hint",
        "backoff, legacy endpoint",
        "SSE per job",
        "SSE /watch (1 conn)",
    }
    for row in rows.values():
        assert row["jobs"] == 2, row  # every strategy learned that both jobs finished
        assert row["requests"] > 0
    assert rows["SSE per job"]["requests"] == 2  # one stream per job, no reconnect for 2 s jobs


def test_latency(results: dict[str, dict[str, Any]]) -> None:
    data = load(results, "latency")
    rows = {r["path"]: r for r in data["rows"]}
    assert set(rows) == {"same process (SSE)", "cross process (SSE)", "fixed 5 s polling", "(a table write alone)"}
    for path in ("same process (SSE)", "cross process (SSE)", "fixed 5 s polling", "(a table write alone)"):
        assert rows[path]["samples"] > 0
        assert 0 <= rows[path]["p50_ms"] <= rows[path]["p99_ms"]
    [cost] = data["details"]["costs"]  # one round: the cost of a status change was counted
    assert cost["changes"] >= 2 * 5  # two jobs: created, claimed, 4 progress writes... each a version
    assert cost["table_writes_per_change"] > 0 and cost["cpu_ms_per_change"] > 0


def test_storage_ops(results: dict[str, dict[str, Any]]) -> None:
    data = load(results, "storage_ops")
    real = [r for r in data["rows"] if r["design"].startswith("real")]
    naive = [r for r in data["rows"] if r["design"].startswith("naive")]
    assert [r["streams"] for r in real] == [1, 3] and [r["streams"] for r in naive] == [1, 3]
    assert all(r["ops_per_s"] > 0 and r["feed_polls_per_s"] > 0 for r in real)
    assert all(r["ops_per_s"] > 0 for r in naive)


def test_capacity(results: dict[str, dict[str, Any]]) -> None:
    data = load(results, "capacity")
    rows = {r["server"]: r for r in data["rows"]}
    assert set(rows) == {"bare", "sse-starlette", "product"}
    for row in rows.values():
        assert row["streams"] == 20
        assert row["delivered"] == 20, row  # the fan-out event reached every stream
        assert row["kib_per_stream"] is not None and row["open_s"] is not None
    assert rows["bare"]["vs_bare"] == 1.0


def test_start_throughput(results: dict[str, dict[str, Any]]) -> None:
    data = load(results, "start_throughput")
    assert [r["concurrency"] for r in data["rows"]] == [1, 4]
    for row in data["rows"]:
        assert row["starts"] == 8 and row["errors"] == 0
        assert row["starts_per_s"] > 0 and row["p99_ms"] > 0
        assert row["storage_ops_per_start"] > 0


def test_log_volume(results: dict[str, dict[str, Any]]) -> None:
    data = load(results, "log_volume")
    rows = {(r["phase"], r["process"]): r for r in data["rows"]}
    # Each job logs at least its start (HTTP side) and its end (worker side); nothing from the SDKs.
    assert rows[("jobs", "http")]["records"] >= 2 and rows[("jobs", "worker")]["records"] >= 2
    assert rows[("jobs", "both")]["records"] == rows[("jobs", "http")]["records"] + rows[("jobs", "worker")]["records"]
    assert data["details"]["stream_opens"] >= 2  # the stream was reopened after its planned close
    assert rows[("streams", "http")]["records"] >= data["details"]["stream_opens"]
