"""Create the tables (and, with the storage backend, the queues) on Azurite for `func start`.

In Azure, Bicep creates them; the local host (`make run`) creates its own. Under the func
tools nothing does, so run this once after Azurite starts:

    .venv/bin/python emulation/init_storage.py                       # local.settings.json
    .venv/bin/python emulation/init_storage.py local.settings.servicebus.json.example

It loads the app's own settings (settings.py) from the file's Values, as `func start` passes
them, and names the tables as the store does (jobs.store.table_names).
"""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from jobs.store import table_names  # noqa: E402
from settings import QueueBackend, load_settings  # noqa: E402


def names(values: dict[str, str]) -> tuple[list[str], list[str]]:
    """The tables and queues the app expects with these Values (they go into os.environ)."""
    os.environ.update(values)
    settings = load_settings()
    queues: list[str] = []
    if settings.queue_backend is QueueBackend.STORAGE:
        queues = [settings.queue_name, f"{settings.queue_name}-poison"]  # the host's poison queue
    return list(table_names(settings.table_prefix)), queues


def main(argv: list[str]) -> int:
    path = Path(argv[1]) if len(argv) > 1 else ROOT / "local.settings.json"
    if not path.exists():
        path = ROOT / "local.settings.json.example"
    values = json.loads(path.read_text())["Values"]
    logging.getLogger("settings").setLevel(logging.ERROR)  # its AUTH_MODE=none warning is for the app
    tables, queues = names(values)

    from azure.core.exceptions import ResourceExistsError
    from azure.data.tables import TableServiceClient
    from azure.storage.queue import QueueServiceClient

    connection = values["AzureWebJobsStorage"]
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
