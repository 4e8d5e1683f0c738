"""Fixtures shared by the jobs/ tests."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from typing import Any

import pytest

from harness.processes import isolated_settings
from jobs.storage import table_service
from settings import Settings


@pytest.fixture
async def table(azurite: Any) -> AsyncIterator[Any]:
    """A fresh table of the test Azurite, dropped afterwards."""
    service = table_service(Settings.model_validate(isolated_settings(azurite)))
    name = f"t{secrets.token_hex(4)}"
    await service.create_table_if_not_exists(name)
    yield service.get_table_client(name)
    await service.delete_table(name)
    await service.close()
