"""The feed watcher (notify/watcher.py): a status written by another process reaches the stream."""

from __future__ import annotations

from harness.sse import read_stream
from tests.support.api import start_job as start


def stream(base: str, job: dict, **kwargs):
    return read_stream(f"{base}{job['eventsUrl']}", params={"access_token": job["token"]}, **kwargs)


def test_status_written_by_another_process_reaches_the_stream(azurite, host_factory):
    from harness.processes import isolated_settings

    env = isolated_settings(azurite)
    api_only = host_factory(env, "--no-worker")
    worker = host_factory(env, "--no-timers")
    job = start(api_only.base_url, "Sleep", {"seconds": 1, "steps": 4})
    transcript = stream(api_only.base_url, job, timeout=30)
    statuses = transcript.statuses()
    assert statuses[-1]["status"] == "Completed"
    assert len(statuses) >= 3  # progress crossed processes too, not only the final state
    assert api_only.diagnostics()["watcher"]["polls"] > 0
    assert worker.diagnostics()["queue"][0]["succeeded"] >= 1
