"""The job-type registry: one decorated async function per job type.

    @job_type("Sleep", timeout_seconds=600)
    async def sleep(ctx: JobContext, params: SleepInput) -> JobResult | None: ...

The input model is read from the function's second parameter annotation. The
function reports progress through `ctx`; raising JobError fails the job at once,
any other exception is retried while delivery attempts remain.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

from jobs.model import is_job_type_name


class JobInput(BaseModel):
    """Base for job input models: camelCase JSON, unknown fields refused."""

    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, populate_by_name=True, frozen=True)


class JobResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    message: str | None = None
    result_ref: str | None = None


class JobContext(Protocol):
    job_id: str
    job_type: str
    attempt: int
    cancelled: bool  # true once the owner cancelled the job: stop soon (the task is cancelled too)

    async def progress(self, fraction: float, message: str | None = None) -> None:
        """Report progress (0.0 to 1.0) and an optional human-readable message.
        Raises Cancelled (errors.py) if the owner cancelled the job: let it propagate."""
        ...


# The second parameter is each job type's own JobInput model (checked at registration).
Handler = Callable[[JobContext, Any], Awaitable[JobResult | None]]
H = TypeVar("H", bound=Handler)


@dataclass(frozen=True)
class JobType:
    name: str
    input_model: type[JobInput]
    handler: Handler
    timeout_seconds: float
    description: str


_REGISTRY: dict[str, JobType] = {}


def job_type(name: str, *, timeout_seconds: float = 900) -> Callable[[H], H]:
    if not is_job_type_name(name):
        raise ValueError(f"job type name {name!r} must be a short identifier")

    def register(fn: H) -> H:
        if name in _REGISTRY:
            raise ValueError(f"job type {name!r} is registered twice")
        params = list(inspect.signature(fn).parameters.values())
        hints = typing.get_type_hints(fn)
        model = hints.get(params[1].name) if len(params) == 2 else None
        if not (inspect.isclass(model) and issubclass(model, JobInput)):
            raise TypeError(f"{fn.__name__} must take (ctx, params: <a JobInput model>)")
        _REGISTRY[name] = JobType(
            name=name,
            input_model=model,
            handler=fn,
            timeout_seconds=timeout_seconds,
            description=inspect.cleandoc(fn.__doc__ or ""),
        )
        return fn

    return register


def get_job_type(name: str) -> JobType | None:
    _load_builtin_types()
    return _REGISTRY.get(name)


def job_types() -> dict[str, JobType]:
    _load_builtin_types()
    return dict(_REGISTRY)


def _load_builtin_types() -> None:
    import jobs.types  # noqa: F401  (registers the shipped job types)
