"""Create the tables (and, with the storage backend, the queues) on Azurite for `func start`.

In Azure, Bicep creates them; the local host (`make run`) creates its own. Under the func
tools nothing does, so run this once after Azurite starts:

    .venv/bin/python emulation/init_storage.py                       # local.settings.json
    .venv/bin/python emulation/init_storage.py local.settings.servicebus.json.example

It reads the same settings the app reads (AzureWebJobsStorage, JOBS_TABLE_PREFIX,
JOBS_QUEUE_BACKEND, JOBS_QUEUE_NAME) from the given local settings file.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def names(values: dict[str, str]) -> tuple[list[str], list[str]]:
    """The tables and queues the app expects, from its settings (defaults as in settings.py)."""
    prefix = values.get("JOBS_TABLE_PREFIX", "jobs")
    tables = [prefix, f"{prefix}feed", f"{prefix}active"]
    queues: list[str] = []
    if values.get("JOBS_QUEUE_BACKEND", "servicebus") == "storage":
        queue = values.get("JOBS_QUEUE_NAME", "jobs")
        queues = [queue, f"{queue}-poison"]
    return tables, queues


def main(argv: list[str]) -> int:
    path = Path(argv[1]) if len(argv) > 1 else ROOT / "local.settings.json"
    if not path.exists():
        path = ROOT / "local.settings.json.example"
    values = json.loads(path.read_text())["Values"]
    connection = values["AzureWebJobsStorage"]
    tables, queues = names(values)

    from azure.core.exceptions import ResourceExistsError
    from azure.data.tables import TableServiceClient
    from azure.storage.queue import QueueServiceClient

    table_service = TableServiceClient.from_connection_string(connection)
    for table in tables:
        table_service.create_table_if_not_exists(table)
    queue_service = QueueServiceClient.from_connection_string(connection)
    for queue in queues:
        try:
            queue_service.create_queue(queue)
        except ResourceExistsError:
            pass
    print(f"ready ({path.name}): tables {', '.join(tables)}; queues {', '.join(queues) or 'none (servicebus backend)'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
