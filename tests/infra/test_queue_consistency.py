"""The jobs queue is the same everywhere: Bicep, the emulator, host.json and the code."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest

import settings as app_settings
from tests.infra import bicep, functions
from tests.infra.project import LOCAL_EXAMPLES, bicep_settings, hms, iso_duration, local_values

EMULATOR_CONFIG = bicep.ROOT / "emulation" / "Config.json"
HOST_JSON = bicep.ROOT / "host.json"


def emulator_queue() -> tuple[str, dict]:
    config = json.loads(EMULATOR_CONFIG.read_text())["UserConfig"]
    [namespace] = config["Namespaces"]
    assert namespace["Name"] == "sbemulatorns"  # the only name the emulator accepts
    [queue] = namespace["Queues"]
    return queue["Name"], queue["Properties"]


def bicep_queue() -> dict[str, bicep.Node]:
    sb = bicep.load(bicep.MODULES / "servicebus.bicep")
    [queue] = sb.resources("Microsoft.ServiceBus/namespaces/queues@")
    return bicep.properties(bicep.path(queue.body, "properties"))


def main_param_via_module(module_param: str) -> object:
    """The main.bicep parameter default that feeds a servicebus.bicep parameter."""
    main = bicep.load(bicep.MAIN)
    source = bicep.module_params(main, "serviceBus")[module_param]
    assert source.type == "identifier", bicep.text(source)
    return main.param_default(bicep.text(source))


def test_max_delivery_count_is_one_number_everywhere() -> None:
    code = app_settings.Settings.model_fields["max_delivery_count"].default
    host = json.loads(HOST_JSON.read_text())["extensions"]["queues"]["maxDequeueCount"]
    assert bicep.text(bicep_queue()["maxDeliveryCount"]) == "maxDeliveryCount"
    in_bicep = main_param_via_module("maxDeliveryCount")
    _, emulator = emulator_queue()
    assert code == host == in_bicep == emulator["MaxDeliveryCount"], (code, host, in_bicep, emulator)
    setting = bicep.text(bicep_settings()["JOBS_MAX_DELIVERY_COUNT"][0])
    assert setting == "string(jobsMaxDeliveryCount)"
    for backend in LOCAL_EXAMPLES:
        assert local_values(backend)["JOBS_MAX_DELIVERY_COUNT"] == str(code)


def test_max_delivery_count_bounds_fit_the_emulator() -> None:
    decl = bicep.load(bicep.MAIN).params["jobsMaxDeliveryCount"]
    assert bicep.decorator_values(decl, "minValue") == [1]
    assert bicep.decorator_values(decl, "maxValue") == [10]  # the emulator's limit


def test_emulator_queue_matches_the_bicep_queue() -> None:
    name, emulator = emulator_queue()
    queue = bicep_queue()
    assert name == main_param_via_module("queueName") == app_settings.Settings.model_fields["queue_name"].default
    assert bicep.text(queue["lockDuration"]) == "lockDuration"
    assert emulator["LockDuration"] == main_param_via_module("lockDuration")
    assert bicep.text(queue["defaultMessageTimeToLive"]) == "defaultMessageTimeToLive"
    # the emulator caps the time-to-live at one hour; otherwise it is the Azure value
    ttl = iso_duration(str(main_param_via_module("defaultMessageTimeToLive")))
    assert iso_duration(emulator["DefaultMessageTimeToLive"]) == min(ttl, timedelta(hours=1))
    assert emulator["DeadLetteringOnMessageExpiration"] is bicep.literal(queue["deadLetteringOnMessageExpiration"])
    assert emulator["DeadLetteringOnMessageExpiration"] is True
    assert emulator["RequiresSession"] is bicep.literal(queue["requiresSession"]) is False
    # Basic (the default tier) has no duplicate detection; neither has the emulator queue
    assert bicep.load(bicep.MAIN).param_default("serviceBusSku") == "Basic"
    assert emulator["RequiresDuplicateDetection"] is False


def test_emulator_config_stays_within_the_emulator_limits() -> None:
    _, emulator = emulator_queue()
    assert 1 <= emulator["MaxDeliveryCount"] <= 10
    assert timedelta(seconds=5) <= iso_duration(emulator["LockDuration"]) <= timedelta(minutes=5)
    assert timedelta(minutes=5) <= iso_duration(emulator["DefaultMessageTimeToLive"]) <= timedelta(hours=1)


def test_lock_duration_fits_the_host_settings() -> None:
    """The lock is renewed for the whole run; its own length only delays a crash's redelivery."""
    host = json.loads(HOST_JSON.read_text())
    timeout = hms(host["functionTimeout"])
    renewal = hms(host["extensions"]["serviceBus"]["maxAutoLockRenewalDuration"])
    lock = iso_duration(str(main_param_via_module("lockDuration")))
    assert renewal >= timeout, "a job could outlive its lock renewal and be delivered twice"
    assert timedelta(seconds=30) <= lock <= timedelta(minutes=5)  # Service Bus allows at most 5 minutes
    assert lock < renewal


def test_message_ttl_outlives_the_longest_default_job_timeout() -> None:
    """A start request must not expire while the job could still be waiting in the queue."""
    from jobs.registry import job_types

    ttl = iso_duration(str(main_param_via_module("defaultMessageTimeToLive")))
    longest = max(t.timeout_seconds for t in job_types().values())
    assert ttl >= timedelta(seconds=longest), (ttl, longest)


@pytest.mark.parametrize("backend", ["servicebus", "storage"])
def test_binding_expressions_are_app_settings(backend: str) -> None:
    """%NAME% in a binding is resolved from app settings: Azure and local both set it."""
    referenced = set()
    for trigger in functions.triggers(backend):
        for key in ("queue_name", "schedule"):
            referenced |= set(re.findall(r"%(\w+)%", trigger.get(key) or ""))
    assert referenced, "the queue trigger and the sweeper reference their settings"
    assert referenced <= set(bicep_settings())
    for backend in LOCAL_EXAMPLES:
        assert referenced <= set(local_values(backend))
