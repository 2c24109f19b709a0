"""What a job raises to say how it failed."""

from __future__ import annotations


class PermanentJobError(Exception):
    """The job can never succeed as it is (bad input, a row that is gone, a rejected mail):
    it is recorded as a permanent failure at once, without retries."""


class RetryJob(Exception):
    """Try again later; ``after`` (seconds) overrides the backoff, e.g. a ``Retry-After``."""

    def __init__(self, message: str, *, after: float | None = None) -> None:
        super().__init__(message)
        self.after = after


class UnknownJob(LookupError):
    """``enqueue`` was given a name no job is registered under (a programming error)."""
