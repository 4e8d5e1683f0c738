"""The function app's bindings, read from the app itself (app.get_functions()).

Imported in a subprocess per queue backend, because function_app registers a different
queue trigger for each and reads its settings at import.
"""

from __future__ import annotations

from functools import cache

from tests.infra.project import run_probe

_PROBE = """
import json, function_app
out = []
for fn in function_app.app.get_functions():
    bindings = []
    for b in fn.get_bindings():
        bindings.append({k: getattr(b, k, None) for k in ("type", "connection", "queue_name", "schedule")})
    out.append({"name": fn.get_function_name(), "bindings": bindings})
print(json.dumps(out))
"""


@cache
def bindings(backend: str) -> tuple[dict, ...]:
    return tuple(run_probe(backend, _PROBE))  # type: ignore[arg-type]


def triggers(backend: str) -> list[dict]:
    return [b for fn in bindings(backend) for b in fn["bindings"] if b["type"].endswith("Trigger")]
