"""The function app's bindings, read from the app itself (app.get_functions()).

Imported in a subprocess per queue backend, because function_app registers a different
queue trigger for each and reads its settings at import.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from functools import cache

from tests.infra.bicep import ROOT

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

_BACKEND_ENV = {
    "storage": {"JOBS_QUEUE_BACKEND": "storage"},
    "servicebus": {
        "JOBS_QUEUE_BACKEND": "servicebus",
        "ServiceBusConnection": (
            "Endpoint=sb://localhost;SharedAccessKeyName=RootManageSharedAccessKey;"
            "SharedAccessKey=SAS_KEY_VALUE;UseDevelopmentEmulator=true;"
        ),
    },
}


@cache
def bindings(backend: str) -> tuple[dict, ...]:
    env = {k: v for k, v in os.environ.items() if k != "WEBSITE_INSTANCE_ID"}
    env.update({"AUTH_MODE": "none", "AzureWebJobsStorage": "UseDevelopmentStorage=true", **_BACKEND_ENV[backend]})
    result = subprocess.run(
        [sys.executable, "-c", _PROBE], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return tuple(json.loads(result.stdout.strip().splitlines()[-1]))


def triggers(backend: str) -> list[dict]:
    return [b for fn in bindings(backend) for b in fn["bindings"] if b["type"].endswith("Trigger")]
