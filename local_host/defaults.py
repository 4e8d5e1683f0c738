"""Embedded defaults for running everything on one machine with Azurite.

Only used when the variable is not already set, so anything here can be
overridden from the environment.
"""

from __future__ import annotations

import os

AZURITE_ACCOUNT = "devstoreaccount1"
# Azurite's well-known development key (public, documented by Microsoft).
AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


def azurite_connection_string(
    host: str = "127.0.0.1", blob: int = 10000, queue: int = 10001, table: int = 10002
) -> str:
    base = f"http://{host}:{{port}}/{AZURITE_ACCOUNT}"
    return (
        f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};AccountKey={AZURITE_KEY};"
        f"BlobEndpoint={base.format(port=blob)};QueueEndpoint={base.format(port=queue)};"
        f"TableEndpoint={base.format(port=table)};"
    )


# How long a received queue message stays invisible before another delivery; the worker renews
# it while the function runs (`python -m local_host --lease-seconds`).
LEASE_SECONDS = 30

LOCAL_DEFAULTS = {
    "AzureWebJobsStorage": "UseDevelopmentStorage=true",
    "JOBS_QUEUE_BACKEND": "storage",
    "JOBS_QUEUE_NAME": "jobs",
    "JOBS_SWEEP_SCHEDULE": "*/15 * * * * *",
    "AUTH_MODE": "none",
    "CORS_ALLOWED_ORIGINS": "http://localhost:4200,http://localhost:7071,http://127.0.0.1:7071",
}


def apply_defaults() -> None:
    for name, value in LOCAL_DEFAULTS.items():
        os.environ.setdefault(name, value)
