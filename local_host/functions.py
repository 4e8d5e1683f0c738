"""Reads what `function_app.py` registers, so the local host serves exactly that.

There is no second route table: routes, methods, queue names and schedules all
come from `app.get_functions()`, with `%SETTING%` binding expressions resolved
the way the Functions host resolves them.
"""

from __future__ import annotations

import functools
import inspect
import json
import os
import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import azure.functions as func

from settings import Settings

ROOT = Path(__file__).resolve().parent.parent
_EXPRESSION = re.compile(r"%([A-Za-z0-9_.:-]+)%")


def resolve(value: str) -> str:
    """Replace `%NAME%` with the app setting NAME (or the settings module's default)."""

    def lookup(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in os.environ:
            return os.environ[name]
        for f in Settings.model_fields.values():
            if f.validation_alias == name and f.default is not None and isinstance(f.default, (str, int, float)):
                return str(f.default)
        raise KeyError(f"binding expression %{name}% names an app setting that is not set")

    return _EXPRESSION.sub(lookup, value)


@dataclass(frozen=True)
class HttpFunction:
    name: str
    route: str  # with the host's route prefix, e.g. /api/jobs/{jobType}/start
    methods: tuple[str, ...]
    arg_name: str
    call: Callable[..., Awaitable[Any]]


@dataclass(frozen=True)
class LocalContext:
    """What the Functions worker passes as `context`, as far as this app uses it."""

    invocation_id: str
    function_name: str
    function_directory: str = str(ROOT)


@dataclass(frozen=True, kw_only=True)
class TriggeredFunction:
    name: str
    arg_name: str
    call: Callable[..., Awaitable[Any]]
    takes_context: bool = field(init=False, repr=False, compare=False)  # read once from the signature

    def __post_init__(self) -> None:
        object.__setattr__(self, "takes_context", "context" in inspect.signature(self.call).parameters)

    async def invoke(self, value: object) -> Any:
        kwargs: dict[str, object] = {self.arg_name: value}
        if self.takes_context:
            kwargs["context"] = LocalContext(str(uuid.uuid4()), self.name)
        return await self.call(**kwargs)


@dataclass(frozen=True, kw_only=True)
class QueueFunction(TriggeredFunction):
    kind: str = "queueTrigger"  # or "serviceBusTrigger"
    queue_name: str
    connection: str


@dataclass(frozen=True, kw_only=True)
class TimerFunction(TriggeredFunction):
    schedule: str  # NCRONTAB, seconds first
    run_on_startup: bool = False


@dataclass
class FunctionTable:
    http: list[HttpFunction] = field(default_factory=list)
    queues: list[QueueFunction] = field(default_factory=list)
    timers: list[TimerFunction] = field(default_factory=list)


def host_json() -> dict[str, Any]:
    return json.loads((ROOT / "host.json").read_text())


@functools.cache
def indexed(app: func.FunctionApp) -> list[Any]:
    """`app.get_functions()`, once: the library refuses a second call on the same app."""
    return app.get_functions()


def read_functions(app: func.FunctionApp) -> FunctionTable:
    prefix = host_json().get("extensions", {}).get("http", {}).get("routePrefix", "api").strip("/")
    table = FunctionTable()
    for function in indexed(app):
        trigger = function.get_trigger()
        spec = trigger.get_dict_repr()
        user = function.get_user_function()
        kind = spec["type"]
        if kind == "httpTrigger":
            route = "/" + "/".join(p for p in (prefix, spec.get("route") or function.get_function_name()) if p)
            methods = tuple(str(getattr(m, "value", m)).upper() for m in spec.get("methods") or ["GET", "POST"])
            table.http.append(HttpFunction(function.get_function_name(), route, methods, spec["name"], user))
        elif kind in ("queueTrigger", "serviceBusTrigger"):
            table.queues.append(
                QueueFunction(
                    name=function.get_function_name(),
                    arg_name=spec["name"],
                    call=user,
                    kind=kind,
                    queue_name=resolve(spec["queueName"]),
                    connection=spec["connection"],
                )
            )
        elif kind == "timerTrigger":
            table.timers.append(
                TimerFunction(
                    name=function.get_function_name(),
                    arg_name=spec["name"],
                    call=user,
                    schedule=resolve(spec["schedule"]),
                    run_on_startup=bool(spec.get("runOnStartup")),
                )
            )
        else:
            raise NotImplementedError(f"the local host cannot run {kind} ({function.get_function_name()})")
    return table


def timer_request() -> func.TimerRequest:
    from azure.functions.timer import TimerRequest  # the concrete class the worker passes

    return TimerRequest(past_due=False)
