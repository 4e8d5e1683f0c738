"""jobs/storage.py: the trimmed table pipeline still signs, retries, counts and answers."""

from __future__ import annotations

import secrets

import pytest
from azure.core import MatchConditions
from azure.core.exceptions import ResourceModifiedError, ServiceRequestError
from azure.core.pipeline import PipelineRequest
from azure.core.rest import HttpRequest
from azure.data.tables import UpdateMode

from harness.processes import free_port, isolated_settings
from jobs.storage import UNUSED_POLICIES, LeanTableServiceClient, table_service
from local_host.defaults import azurite_connection_string
from settings import Settings


def _kinds(client: LeanTableServiceClient) -> list[str]:
    return [type(p).__name__ for p in client._policies]


async def test_the_pipeline_keeps_auth_headers_retries_and_the_hook_and_drops_the_rest(azurite) -> None:
    attempts: list[str] = []

    def count(request: PipelineRequest[HttpRequest]) -> None:
        attempts.append(request.http_request.method)

    service = table_service(Settings.model_validate(isolated_settings(azurite)), on_request=count)
    assert isinstance(service, LeanTableServiceClient)
    kinds = _kinds(service)
    for needed in ("SharedKeyCredentialPolicy", "StorageHeadersPolicy", "AsyncTablesRetryPolicy", "CustomHookPolicy"):
        assert needed in kinds
    assert not [p for p in service._policies if isinstance(p, UNUSED_POLICIES)]

    name = f"st{secrets.token_hex(4)}"
    async with service:
        await service.create_table_if_not_exists(name)
        table = service.get_table_client(name)
        # Signed (Azurite checks the shared key), and an ETag condition still guards a write.
        first = await table.upsert_entity({"PartitionKey": "p", "RowKey": "r", "N": 1})
        await table.update_entity(
            {"PartitionKey": "p", "RowKey": "r", "N": 2},
            mode=UpdateMode.REPLACE,
            etag=first["etag"],
            match_condition=MatchConditions.IfNotModified,
        )
        with pytest.raises(ResourceModifiedError):
            await table.update_entity(
                {"PartitionKey": "p", "RowKey": "r", "N": 3},
                mode=UpdateMode.REPLACE,
                etag=first["etag"],
                match_condition=MatchConditions.IfNotModified,
            )
        assert (await table.get_entity("p", "r"))["N"] == 2
        await service.delete_table(name)
    assert attempts.count("PUT") >= 2 and "GET" in attempts  # the table client shares the hook


async def test_a_request_that_cannot_connect_is_retried_then_fails_as_an_outage() -> None:
    attempts: list[str] = []
    nobody = free_port()  # nothing listens here
    settings = Settings.model_validate(
        {
            "AzureWebJobsStorage": azurite_connection_string(blob=nobody, queue=nobody, table=nobody),
            "AUTH_MODE": "none",
            "JOBS_QUEUE_BACKEND": "storage",
        }
    )
    service = table_service(settings, on_request=lambda request: attempts.append(request.http_request.method))
    async with service:
        with pytest.raises(ServiceRequestError):
            await service.get_table_client("absent").get_entity("p", "r")
    assert len(attempts) == 3  # the first attempt and CLIENT_OPTIONS' two retries
