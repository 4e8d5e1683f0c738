"""notify/signals.py: the streams hear SIGTERM before the server's own handler runs."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Iterator

import pytest

from notify.signals import chain_shutdown


@pytest.fixture
def restore_handlers() -> Iterator[None]:
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    yield
    for sig, handler in saved.items():
        signal.signal(sig, handler)


async def test_the_callback_runs_and_the_servers_handler_still_runs(restore_handlers):
    heard: list[str] = []
    signal.signal(signal.SIGTERM, lambda signum, frame: heard.append("server"))
    chain_shutdown(lambda: heard.append("streams"), asyncio.get_running_loop())
    os.kill(os.getpid(), signal.SIGTERM)
    await asyncio.sleep(0.05)
    assert heard == ["server", "streams"]  # the server's runs in the handler, ours on the loop just after


async def test_a_server_that_installs_its_handler_later_is_chained_again(restore_handlers):
    heard: list[str] = []
    loop = asyncio.get_running_loop()
    signal.signal(signal.SIGTERM, lambda signum, frame: heard.append("first server"))
    chain_shutdown(lambda: heard.append("streams"), loop)
    chain_shutdown(lambda: heard.append("streams"), loop)  # already chained: not twice
    signal.signal(signal.SIGTERM, lambda signum, frame: heard.append("second server"))
    chain_shutdown(lambda: heard.append("streams"), loop)
    os.kill(os.getpid(), signal.SIGTERM)
    await asyncio.sleep(0.05)
    assert heard == ["second server", "streams"]


async def test_the_default_action_is_left_alone(restore_handlers):
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    chain_shutdown(lambda: None, asyncio.get_running_loop())
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
