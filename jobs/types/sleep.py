import asyncio

from pydantic import Field

from jobs.registry import JobContext, JobInput, JobResult, job_type


class SleepInput(JobInput):
    seconds: float = Field(5.0, ge=0, le=3600, description="Total run time.")
    steps: int = Field(5, ge=1, le=1000, description="Progress reports, evenly spaced.")


@job_type("Sleep", timeout_seconds=3900)
async def sleep(ctx: JobContext, params: SleepInput) -> JobResult:
    """Waits `seconds`, reporting progress `steps` times."""
    for step in range(1, params.steps + 1):
        await asyncio.sleep(params.seconds / params.steps)
        await ctx.progress(step / params.steps, f"step {step} of {params.steps}")
    return JobResult(message=f"slept {params.seconds:g}s")
