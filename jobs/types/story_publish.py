import asyncio
from typing import Literal

from pydantic import Field

from jobs.registry import JobContext, JobInput, JobResult, job_type

Channel = Literal["web", "amp", "apple-news", "newsletter"]


class StoryPublishInput(JobInput):
    story_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    title: str = Field("Untitled story", min_length=1, max_length=200)
    channels: list[Channel] = Field(default_factory=lambda: list[Channel](["web"]), min_length=1, max_length=4)
    step_seconds: float = Field(1.0, ge=0, le=60, description="Simulated time per step.")


@job_type("StoryPublish", timeout_seconds=1800)
async def story_publish(ctx: JobContext, params: StoryPublishInput) -> JobResult:
    """Validates, renders and publishes a story to each channel, then purges caches."""
    steps = [
        "Validating story",
        "Rendering images",
        *(f"Publishing to {channel}" for channel in dict.fromkeys(params.channels)),
        "Purging CDN cache",
        "Notifying subscribers",
    ]
    for index, step in enumerate(steps):
        await ctx.progress(index / len(steps), step)
        await asyncio.sleep(params.step_seconds)
    return JobResult(
        message=f"Published '{params.title}' to {', '.join(dict.fromkeys(params.channels))}",
        result_ref=f"stories/{params.story_id}/published",
    )
