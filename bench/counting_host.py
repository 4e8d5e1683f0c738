"""`python -m bench.counting_host [local host options]`: the local host, with every storage
transaction counted in /local/diagnostics (see bench/counting.py for why this is needed).
Everything else is `python -m local_host` unchanged."""

from __future__ import annotations

import sys

from bench import common  # noqa: F401 (puts the repository on sys.path)
from bench.counting import install

if __name__ == "__main__":
    install()
    from local_host.__main__ import main

    sys.argv[0] = "python -m local_host"
    main()
