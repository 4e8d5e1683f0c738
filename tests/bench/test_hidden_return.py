"""Smoke test of bench/hidden_return.py (a real Chromium): one tab per cell, a 1 s and a 30 s pause,
a 4 s hidden spell. It checks what the benchmark counted, never a speed beyond "at once"."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.bench.test_bench_smoke import load

pytestmark = [pytest.mark.bench, pytest.mark.browser]

ROOT = Path(__file__).resolve().parents[2]
# 4 s, not 3: the job (2-3 s) is still running when the 1 s pause closes the stream.
TINY = ["--pauses", "1000,30000", "--spells", "4", "--repeats", "1", "--warmup", "0"]


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("hidden")
    command = [sys.executable, "-m", "bench.hidden_return", "--out", str(out), *TINY]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=150)
    return load(
        {"hidden_return": {"code": done.returncode, "log": done.stdout + done.stderr, "dir": out}}, "hidden_return"
    )


def test_a_pause_shorter_than_the_spell_closes_the_stream_and_one_stream_request_brings_the_end(
    data: dict[str, Any],
) -> None:
    row = next(r for r in data["rows"] if r["pause_ms"] == 1000)
    assert row["spell_s"] == 4 and row["repeats"] == 1
    assert row["paused"] == 1.0
    assert row["hidden_requests"] == 0  # not a request of any kind while paused
    assert row["return_requests"] == 1 and row["return_kinds"] == "stream"  # the paused token's cookie
    assert 0 <= row["max_ms"] < 3000  # at once: no batch window, no poll backoff (about 20 ms measured)
    assert 0.7 <= row["stream_s"] <= 2.0, row  # held until the pause (1 s), not to the job's end
    [t] = [t for t in data["details"]["trials"] if t["pause_ms"] == 1000]
    assert t["job_done_when_shown"] and not t["hidden_kinds"]
    assert t["stats"]["pauses"] == 1 and t["stats"]["tokens"] == 1 and t["stats"]["streamsOpened"] == 2, t


def test_a_pause_longer_than_the_spell_keeps_the_stream_and_the_end_is_on_screen_when_shown(
    data: dict[str, Any],
) -> None:
    row = next(r for r in data["rows"] if r["pause_ms"] == 30000)
    assert row["paused"] == 0.0
    assert row["hidden_requests"] == 0  # the open stream carried the end; nothing was asked for
    assert row["return_requests"] == 0 and row["return_kinds"] == "none"
    assert row["max_ms"] == 0  # already terminal when shown
    assert 1.0 <= row["stream_s"] <= 4.0, row  # open until the job ended, 1-2 s before showing
    [t] = [t for t in data["details"]["trials"] if t["pause_ms"] == 30000]
    assert t["job_done_when_shown"]
    assert t["stats"]["pauses"] == 0 and t["stats"]["streamsOpened"] == 1, t
    assert data["details"]["jobs_not_done_when_shown"] == 0
