"""The shipped job types. Importing this package registers them."""

from jobs.types import fail, sleep, story_publish

__all__ = ["fail", "sleep", "story_publish"]
