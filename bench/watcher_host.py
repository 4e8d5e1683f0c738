"""`python -m bench.watcher_host [local host options]`: the local host, its feed watcher's read
windows taken from the environment, so the scale model can measure the design before the
high-water mark beside the one that runs (bench/scale_model.py --measure).

- BENCH_WATCHER_SWEEP_SECONDS: how often a read reaches back the whole skew (0: every read,
  the design before);
- BENCH_WATCHER_OVERLAP_SECONDS: how far back the other reads start before the previous one.

Unset, the watcher is the one the app builds. Benchmark use only.
"""

from __future__ import annotations

import functools
import os
import sys

from bench import common  # noqa: F401 (puts the repository on sys.path)

if __name__ == "__main__":
    import services
    from notify.watcher import OVERLAP_SECONDS, SWEEP_SECONDS, FeedWatcher

    # services.build_services looks FeedWatcher up when it runs: a configured one is built instead.
    services.FeedWatcher = functools.partial(  # type: ignore[attr-defined,assignment]
        FeedWatcher,
        sweep_seconds=float(os.environ.get("BENCH_WATCHER_SWEEP_SECONDS", SWEEP_SECONDS)),
        overlap_seconds=float(os.environ.get("BENCH_WATCHER_OVERLAP_SECONDS", OVERLAP_SECONDS)),
    )
    from local_host.__main__ import main

    sys.argv[0] = "python -m local_host"
    main()
