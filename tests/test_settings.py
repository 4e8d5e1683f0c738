"""A wrong or missing setting stops start-up with a message that names it."""

import itertools
import subprocess
import sys
from datetime import datetime, timedelta

import pytest
from croniter import croniter

from errors import SettingsError
from settings import Settings, load_settings

BASE = {"AUTH_MODE": "none", "AzureWebJobsStorage": "UseDevelopmentStorage=true", "JOBS_QUEUE_BACKEND": "storage"}


def load(monkeypatch, **env):
    for name in list(Settings.model_fields):
        alias = Settings.model_fields[name].validation_alias
        monkeypatch.delenv(alias, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return load_settings()


def test_defaults_load(monkeypatch):
    settings = load(monkeypatch, **BASE)
    assert settings.sse_lifetime_seconds <= 200 and settings.sse_keepalive_seconds == 15


@pytest.mark.parametrize(
    "env,named",
    [
        ({"AUTH_MODE": ""}, "AUTH_MODE"),
        ({"AUTH_MODE": "maybe"}, "AUTH_MODE"),
        ({"SSE_STREAM_LIFETIME_SECONDS": "240"}, "SSE_STREAM_LIFETIME_SECONDS"),
        ({"SSE_KEEPALIVE_SECONDS": "soon"}, "SSE_KEEPALIVE_SECONDS"),
        ({"JOBS_QUEUE_NAME": "Bad_Name"}, "JOBS_QUEUE_NAME"),
        ({"CORS_ALLOWED_ORIGINS": "localhost:4200"}, "CORS_ALLOWED_ORIGINS"),
        ({"JOBS_QUEUE_BACKEND": "kafka"}, "JOBS_QUEUE_BACKEND"),
        ({"JOBS_QUEUE_BACKEND": "servicebus"}, "ServiceBusConnection"),
        ({"AzureWebJobsStorage": ""}, "AzureWebJobsStorage"),
        ({"AUTH_MODE": "bearer"}, "AUTH_BEARER_ISSUER"),
        ({"STREAM_TOKEN_SIGNING_KEY": "short"}, "STREAM_TOKEN_SIGNING_KEY"),
        ({"STREAM_TOKEN_PREVIOUS_KEY": "p" * 40}, "STREAM_TOKEN_PREVIOUS_KEY_UNTIL"),
    ],
)
def test_bad_settings_are_named(monkeypatch, env, named):
    with pytest.raises(SettingsError, match=named):
        load(monkeypatch, **{**BASE, **env})


def test_missing_auth_mode_is_named(monkeypatch):
    env = dict(BASE)
    del env["AUTH_MODE"]
    with pytest.raises(SettingsError, match="AUTH_MODE"):
        load(monkeypatch, **env)


@pytest.mark.parametrize(
    "env,named",
    [
        ({"AUTH_MODE": "none"}, "AUTH_MODE=none"),
        ({"AUTH_MODE": "easyauth"}, "STREAM_TOKEN_SIGNING_KEY"),
        (
            {"AUTH_MODE": "easyauth", "STREAM_TOKEN_SIGNING_KEY": "k" * 40, "CORS_ALLOWED_ORIGINS": "*"},
            "CORS_ALLOWED_ORIGINS",
        ),
    ],
)
def test_azure_refuses_local_only_settings(monkeypatch, env, named):
    monkeypatch.setenv("WEBSITE_INSTANCE_ID", "abc123")
    with pytest.raises(SettingsError, match=named):
        load(monkeypatch, **{**BASE, **env})


def test_local_host_refuses_to_start_on_a_bad_setting():
    env = {
        "PATH": "/usr/bin",
        "AUTH_MODE": "none",
        "AzureWebJobsStorage": "UseDevelopmentStorage=true",
        "SSE_STREAM_LIFETIME_SECONDS": "999",
    }
    result = subprocess.run(
        [sys.executable, "-m", "local_host", "--port", "1"], env=env, capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 2
    assert "SSE_STREAM_LIFETIME_SECONDS" in result.stderr
    assert "Traceback" not in result.stderr


def sweep_gaps(ncrontab):
    """Seconds between consecutive runs of a six-field NCRONTAB (seconds first), over a day."""
    fields = ncrontab.split()
    assert len(fields) == 6, "NCRONTAB has six fields, seconds first"
    start = datetime(2026, 1, 1)
    schedule = croniter(" ".join(fields[1:] + fields[:1]), start)
    runs = [schedule.get_next(datetime)]
    while runs[-1] < start + timedelta(days=1):
        runs.append(schedule.get_next(datetime))
    return {(b - a).total_seconds() for a, b in itertools.pairwise(runs)}


def test_the_sweeper_runs_every_five_minutes_by_default(monkeypatch):
    """Every 5 minutes, evenly: the backstop's bound in docs/cost.md and the model's 8,760 runs a month."""
    settings = load(monkeypatch, **BASE)
    assert settings.sweep_schedule == "0 */5 * * * *"
    assert sweep_gaps(settings.sweep_schedule) == {300.0}


def test_the_sweep_schedule_is_set_from_the_environment(monkeypatch):
    """The local host sweeps faster (its embedded default), and an app setting overrides the default."""
    from local_host.defaults import LOCAL_DEFAULTS

    local = LOCAL_DEFAULTS["JOBS_SWEEP_SCHEDULE"]
    assert max(sweep_gaps(local)) < min(sweep_gaps(Settings.model_fields["sweep_schedule"].default))
    assert load(monkeypatch, **BASE, JOBS_SWEEP_SCHEDULE=local).sweep_schedule == local
