"""bench/pyspy.py: samples by activity and component, system-call leaves apart; a real recording."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench import pyspy

SITE = "/venv/lib/python3.11/site-packages/"
ROOT = str(Path(pyspy.__file__).resolve().parent.parent) + "/"
BASE = ";".join(
    [
        "_run_module_as_main (<frozen runpy>:198)",
        "BaseEventLoop._run_once (/usr/lib/python3.11/asyncio/base_events.py:1922)",
    ]
)


def _stack(*frames: str, count: int) -> str:
    return ";".join((BASE, *frames)) + f" {count}"


RAW = "\n".join(
    [
        # A progress write: the SDK's serializer under the store's _mutate.
        _stack(
            f"TableStatusStore._mutate ({ROOT}jobs/store.py:441)",
            f"Serializer.serialize_basic ({SITE}azure/data/tables/_generated/_serialization.py:858)",
            count=6,
        ),
        # The hub's fan-out called from inside that write counts as SSE delivery.
        _stack(
            f"TableStatusStore._mutate ({ROOT}jobs/store.py:441)",
            f"Hub.publish ({ROOT}notify/hub.py:90)",
            count=2,
        ),
        # A stdlib leaf (the email package) counts for the SDK code that called it.
        _stack(
            f"TableBatcher._chunk ({ROOT}jobs/batching.py:84)",
            f"_prepare_multipart_body_helper ({SITE}azure/core/utils/_pipeline_transport_rest_shared.py:169)",
            "Message.as_bytes (/usr/lib/python3.11/email/message.py:170)",
            count=2,
        ),
        # Waiting in epoll: not CPU, left out of the shares.
        _stack("EpollSelector.select (/usr/lib/python3.11/selectors.py:468)", count=10),
    ]
)


def test_samples_go_to_their_activity_and_component_and_syscalls_stay_apart(monkeypatch) -> None:
    monkeypatch.setattr(pyspy, "_STDLIB", "/usr/lib/python3.11/")
    profile = pyspy.parse(RAW)
    assert profile.samples == 20 and profile.kernel == 10 and profile.running == 10
    assert profile.activities == {
        "status writes (create, claim, progress, terminal)": 6,
        "SSE delivery: hub, streams, event writes": 2,
        "feed + active-index rows (batched transactions)": 2,
    }
    shares = dict(profile.share(profile.exclusive))
    assert shares["azure-data-tables serializer"] == pytest.approx(0.6)
    assert shares["azure-core pipeline, tracing, rest"] == pytest.approx(0.2)  # the email leaf, charged to its caller
    assert shares["app: notify/"] == pytest.approx(0.2)
    assert pyspy.KERNEL not in shares
    rows = {r["activity"]: r["cpu_ms_per_change"] for r in pyspy.activity_table(profile, 5.0)}
    assert rows["status writes (create, claim, progress, terminal)"] == pytest.approx(3.0)


def test_a_recording_of_a_busy_process_names_its_hot_function(tmp_path: Path) -> None:
    code = "def spin_here():\n    while True:\n        sum(range(1000))\nspin_here()\n"
    proc = subprocess.Popen([sys.executable, "-c", code])
    try:
        time.sleep(0.5)
        with pyspy.recording(proc.pid, tmp_path / "busy.txt"):
            time.sleep(1.5)
    finally:
        proc.kill()
        proc.wait()
    profile = pyspy.parse((tmp_path / "busy.txt").read_text())
    assert profile.samples > 50  # ~100 a second while it spins
    assert any("spin_here" in line for line in (tmp_path / "busy.txt").read_text().splitlines())
