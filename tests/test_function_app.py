"""The function bindings are what the README documents, read from app.get_functions()."""

import importlib
import subprocess
import sys
import textwrap

import pytest

HTTP = {
    "start_job": ("jobs/{jobType}/start", ["POST"]),
    "get_job_status": ("jobs/{jobType}/{jobId}", ["GET"]),
    "job_events": ("jobs/{jobType}/{jobId}/events", ["GET"]),
    "cancel_job": ("jobs/{jobType}/{jobId}/cancel", ["POST"]),
    "list_jobs": ("jobs", ["GET"]),
    "mint_stream_token": ("jobs/{jobType}/{jobId}/token", ["POST"]),
    "watch_jobs": ("watch", ["POST"]),
    "watch_events": ("watch/events", ["GET"]),
    "watch_stream_events": ("watch/{streamId}/events", ["GET"]),
    "health": ("health", ["GET"]),
    "openapi": ("openapi.json", ["GET"]),
}


def bindings_for(backend: str) -> dict:
    """Index the app in a fresh interpreter, as the Functions worker does, with one backend."""
    script = textwrap.dedent(
        """
        import json, function_app
        out = {}
        for f in function_app.app.get_functions():
            b = json.loads(f.get_function_json())["bindings"]
            out[f.get_function_name()] = b
        print(json.dumps(out))
        """
    )
    env = {
        "AUTH_MODE": "none",
        "AzureWebJobsStorage": "UseDevelopmentStorage=true",
        "JOBS_QUEUE_BACKEND": backend,
        "ServiceBusConnection__fullyQualifiedNamespace": "example.servicebus.windows.net",
        "PATH": "/usr/bin",
    }
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
    import json

    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def servicebus_app():
    return bindings_for("servicebus")


@pytest.fixture(scope="module")
def storage_app():
    return bindings_for("storage")


def test_http_routes_and_methods(servicebus_app):
    for name, (route, methods) in HTTP.items():
        trigger = servicebus_app[name][0]
        assert trigger["type"] == "httpTrigger"
        assert trigger["route"] == route
        assert trigger["methods"] == methods
        assert trigger["authLevel"] == "ANONYMOUS"  # auth is in code: Easy Auth or bearer


@pytest.mark.parametrize(
    ("app", "function", "trigger_type", "connection", "other"),
    [
        ("servicebus_app", "run_job_servicebus", "serviceBusTrigger", "ServiceBusConnection", "run_job_storage"),
        ("storage_app", "run_job_storage", "queueTrigger", "AzureWebJobsStorage", "run_job_servicebus"),
    ],
)
def test_each_backend_registers_its_own_queue_trigger(request, app, function, trigger_type, connection, other):
    functions = request.getfixturevalue(app)
    assert functions[function][0] == {
        "direction": "IN",
        "type": trigger_type,
        "name": "msg",
        "connection": connection,
        "queueName": "%JOBS_QUEUE_NAME%",
    }
    assert other not in functions


def test_sweeper_timer(storage_app):
    trigger = storage_app["sweep_jobs"][0]
    assert trigger["type"] == "timerTrigger" and trigger["schedule"] == "%JOBS_SWEEP_SCHEDULE%"


def test_every_http_function_uses_the_fastapi_extension_types():
    import inspect

    from azurefunctions.extensions.http.fastapi import Request, Response

    from local_host.functions import indexed

    function_app = importlib.import_module("function_app")
    for function in indexed(function_app.app):
        if function.get_trigger().type != "httpTrigger":
            continue
        hints = inspect.get_annotations(function.get_user_function(), eval_str=True)
        assert hints["req"] is Request, function.get_function_name()
        assert issubclass(hints["return"], Response), function.get_function_name()


def test_the_local_host_serves_exactly_the_registered_routes():
    from local_host.functions import read_functions

    function_app = importlib.import_module("function_app")
    served = {f.name: (f.route, list(f.methods)) for f in read_functions(function_app.app).http}
    assert served == {name: (f"/api/{route}", methods) for name, (route, methods) in HTTP.items()}
