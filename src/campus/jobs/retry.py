"""Exponential backoff with jitter."""

from __future__ import annotations

import random


def backoff_seconds(attempt: int, *, base: float, cap: float) -> float:
    """The wait before try ``attempt + 1``: ``base * 2**(attempt-1)`` capped at ``cap``, of
    which a random half is kept ("equal jitter"), so retries of jobs that failed together
    spread out but never come back immediately."""
    ceiling = float(min(cap, base * 2.0 ** max(attempt - 1, 0)))
    jitter = random.uniform(0.0, ceiling / 2)  # noqa: S311 - spreading, not secrecy
    return ceiling / 2 + jitter
