import asyncio

from pydantic import Field

from errors import JobError
from jobs.registry import JobContext, JobInput, JobResult, job_type


class FailInput(JobInput):
    message: str = Field("simulated failure", min_length=1, max_length=500)
    after_seconds: float = Field(0.5, ge=0, le=600)
    transient: bool = Field(
        False,
        description="Raise an unexpected error instead of JobError: retried until the "
        "delivery attempts are used up, then Failed and dead-lettered.",
    )


@job_type("Fail", timeout_seconds=900)
async def fail(ctx: JobContext, params: FailInput) -> JobResult:
    """Reports a little progress, then fails with `message`."""
    await asyncio.sleep(params.after_seconds / 2)
    await ctx.progress(0.3, "about to fail")
    await asyncio.sleep(params.after_seconds / 2)
    if params.transient:
        raise RuntimeError(params.message)
    raise JobError(params.message)
