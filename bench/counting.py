"""Make jobs.storage.OPERATIONS count every storage transaction, in the processes the benchmarks run.

Why this exists: jobs/storage.py counts with `per_retry_policies=[OPERATIONS.policy(...)]`,
but neither SDK carries that policy to the clients that do the work:
- azure-data-tables: `TableServiceClient.get_table_client()` builds each TableClient's
  pipeline from `service._policies`, which does not hold per_retry_policies (they are only
  spliced into the service's own pipeline). The store uses get_table_client for all three
  tables, and create_table_if_not_exists goes through it too: no table operation is counted.
- azure-storage-queue: the async QueueClient builds its own policy list and ignores
  per_retry_policies: no queue operation is counted.
So /local/diagnostics `storageOperations` stays `{}` (reported to the backend owner with the
fix: pass `raw_request_hook=` instead, which both SDKs run once per attempt).

`install()` wraps jobs.storage.table_service and storage_queue so that each client they build
counts into the same OPERATIONS counter through the hook both SDKs already have (tables:
CustomHookPolicy in the shared policy list, after the retry policy; queues: StorageRequestHook,
after the retry policy), so each HTTP attempt is counted once. If a client already counts (its
policies hold the counting policy, or the hook is set), it is left alone: nothing is counted twice.
"""

from __future__ import annotations

from typing import Any

_installed = False


def _hook(service: str) -> Any:
    from jobs.storage import OPERATIONS

    def count(request: Any) -> None:
        OPERATIONS.add(f"{service} {request.http_request.method}")

    return count


def _counting_policy(policy: Any) -> bool:
    return type(policy).__name__ == "_Count"


def count_table_client(service: Any) -> Any:
    from azure.core.pipeline.policies import CustomHookPolicy

    policies = getattr(service, "_policies", None) or []
    if any(_counting_policy(p) for p in policies):
        return service
    for policy in policies:
        if isinstance(policy, CustomHookPolicy) and policy._request_callback is None:
            policy._request_callback = _hook("table")
    return service


def count_queue_client(client: Any) -> Any:
    from azure.storage.queue._shared.policies import StorageRequestHook

    pipeline = getattr(client, "_pipeline", None)
    wrapped = [getattr(p, "_policy", p) for p in getattr(pipeline, "_impl_policies", [])]
    if any(_counting_policy(p) for p in wrapped):
        return client
    for policy in wrapped:
        if isinstance(policy, StorageRequestHook) and policy._request_callback is None:
            policy._request_callback = _hook("queue")
    return client


def install() -> None:
    """Patch jobs.storage's client factories (before anything imports them by name)."""
    global _installed
    if _installed:
        return
    import jobs.storage as storage

    table_service, storage_queue = storage.table_service, storage.storage_queue

    def counted_table_service(settings: Any) -> Any:
        return count_table_client(table_service(settings))

    def counted_storage_queue(settings: Any, name: str) -> Any:
        return count_queue_client(storage_queue(settings, name))

    storage.table_service = counted_table_service  # type: ignore[assignment]
    storage.storage_queue = counted_storage_queue  # type: ignore[assignment]
    _installed = True
