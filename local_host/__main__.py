"""python -m local_host [--port 7071]: serve function_app.py locally (see server.py)."""

from __future__ import annotations

import argparse
import logging
import sys

from local_host.defaults import LEASE_SECONDS, apply_defaults
from telemetry.logs import configure_logging


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m local_host", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=7071)
    parser.add_argument("--no-worker", action="store_true", help="serve HTTP only; another process runs the jobs")
    parser.add_argument("--no-timers", action="store_true", help="do not run timer-triggered functions")
    parser.add_argument(
        "--lease-seconds",
        type=int,
        default=LEASE_SECONDS,
        help="how long a received message stays invisible before another delivery (renewed while it runs)",
    )
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args()

    apply_defaults()
    configure_logging(getattr(logging, args.log_level.upper(), logging.INFO))
    from errors import SettingsError
    from settings import get_settings

    try:
        get_settings()
    except SettingsError as exc:
        print(f"local host: {exc}", file=sys.stderr)
        sys.exit(2)
    from local_host.server import serve

    serve(
        args.host,
        args.port,
        run_worker=not args.no_worker,
        run_timers=not args.no_timers,
        lease_seconds=args.lease_seconds,
    )


if __name__ == "__main__":
    main()
