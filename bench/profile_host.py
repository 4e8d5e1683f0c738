"""`python -m bench.profile_host [local host options]`: the local host, with profiling on signals.

- SIGUSR1: write a tracemalloc snapshot to $BENCH_PROFILE_DIR/snapshot-<n>.pickle
  (tracing starts at launch with $BENCH_TRACEMALLOC_FRAMES frames, default 8; 0 turns it off);
- SIGUSR2: start cProfile; the next SIGUSR2 stops it and writes $BENCH_PROFILE_DIR/cprofile-<n>.pstats.

Used by bench/hotspots.py. Nothing here changes what the local host does; profiling slows it.
"""

from __future__ import annotations

import cProfile
import os
import signal
import sys
import tracemalloc
from pathlib import Path
from typing import Any

from bench import common  # noqa: F401 (puts the repository on sys.path)

OUT = Path(os.environ.get("BENCH_PROFILE_DIR", "."))
_state: dict[str, Any] = {"snapshots": 0, "profiles": 0, "profiler": None}


def _snapshot(signum: int, frame: Any) -> None:
    snapshot = tracemalloc.take_snapshot()
    snapshot.dump(str(OUT / f"snapshot-{_state['snapshots']}.pickle"))
    _state["snapshots"] += 1
    (OUT / f"snapshot-{_state['snapshots'] - 1}.done").touch()


def _profile(signum: int, frame: Any) -> None:
    profiler = _state["profiler"]
    if profiler is None:
        _state["profiler"] = cProfile.Profile()
        _state["profiler"].enable()
        (OUT / f"cprofile-{_state['profiles']}.started").touch()
        return
    profiler.disable()
    profiler.dump_stats(str(OUT / f"cprofile-{_state['profiles']}.pstats"))
    (OUT / f"cprofile-{_state['profiles']}.done").touch()
    _state["profiles"] += 1
    _state["profiler"] = None


if __name__ == "__main__":
    OUT.mkdir(parents=True, exist_ok=True)
    frames = int(os.environ.get("BENCH_TRACEMALLOC_FRAMES", "8"))
    if frames > 0:  # 0: no memory tracing (CPU profiles only)
        tracemalloc.start(frames)
    signal.signal(signal.SIGUSR1, _snapshot)
    signal.signal(signal.SIGUSR2, _profile)
    from local_host.__main__ import main

    sys.argv[0] = "python -m local_host"
    main()
