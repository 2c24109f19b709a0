"""Load for fault scenarios: N clients creating tasks while something breaks.

Shared by the fault tests (small: a few clients, seconds) and ``bench/faults.py`` (16
clients, 10 s outages). Every answer is recorded with when it was asked, so it can be put
in its phase: before the fault, during it, after it is repaired.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import httpx

PASSWORD = "fault-scenario-password-42"


@dataclass
class Answer:
    started: float
    elapsed: float
    status: int | str  # an HTTP status, or the transport error's class name
    problem: str | None = None
    retry_after: str | None = None


@dataclass
class Timeline:
    fault_started: float = 0.0
    fault_ended: float = 0.0  # the repaired service answers again (pg_ctl start returned)


@dataclass
class WriteLoad:
    answers: list[Answer] = field(default_factory=list)
    acknowledged: set[int] = field(default_factory=set)
    timeline: Timeline = field(default_factory=Timeline)

    def phase(self, answer: Answer) -> str:
        t = self.timeline
        if answer.started < t.fault_started:
            return "before"
        if answer.started < t.fault_ended:
            return "during"
        return "after"

    def by_phase(self) -> dict[str, Counter[str]]:
        phases: dict[str, Counter[str]] = {
            "before": Counter(),
            "during": Counter(),
            "after": Counter(),
        }
        for answer in self.answers:
            label = str(answer.status)
            if answer.problem:
                label += f" {answer.problem.rsplit('/', 1)[-1]}"
            phases[self.phase(answer)][label] += 1
        return phases

    def recovery_seconds(self) -> float | None:
        """From the repair to the first write acknowledged by a request sent after it."""
        after = [
            a.started + a.elapsed
            for a in self.answers
            if a.status == 201 and a.started >= self.timeline.fault_ended
        ]
        return min(after) - self.timeline.fault_ended if after else None

    def all_ok_after(self) -> float | None:
        """From the repair to the last failed answer to a request sent after it (0: none)."""
        failed = [
            a.started + a.elapsed
            for a in self.answers
            if a.status != 201 and a.started >= self.timeline.fault_ended
        ]
        return max(failed) - self.timeline.fault_ended if failed else 0.0

    def max_elapsed(self, phase: str) -> float:
        return max((a.elapsed for a in self.answers if self.phase(a) == phase), default=0.0)


async def sign_up(client: httpx.AsyncClient) -> dict[str, str]:
    """A new student's bearer header (rate limits are off on the servers under test)."""
    email = f"fault-{uuid.uuid4().hex[:12]}@example.com"
    registered = await client.post(
        "/api/v1/auth/register",
        json={"email": email, "password": PASSWORD, "full_name": "Fault Tester"},
    )
    assert registered.status_code == 201, registered.text
    login = await client.post("/api/v1/auth/login", data={"username": email, "password": PASSWORD})
    assert login.status_code == 200, login.text
    return {"Authorization": f"Bearer {login.json()['access_token']}"}


async def write_tasks(
    url: str,
    *,
    clients: int,
    fault: Callable[[Timeline], Awaitable[None]],
    settle_seconds: float,
    warmup_seconds: float = 1.0,
    request_timeout: float = 30.0,
    pause_after_error: float = 0.05,
) -> WriteLoad:
    """``clients`` concurrent loops creating tasks; after ``warmup_seconds`` run ``fault``
    (which fills in the timeline), then go on for ``settle_seconds`` and stop."""
    load = WriteLoad()
    limits = httpx.Limits(max_connections=clients + 4, max_keepalive_connections=clients + 4)
    async with httpx.AsyncClient(base_url=url, timeout=request_timeout, limits=limits) as client:
        headers = await sign_up(client)
        stop = asyncio.Event()

        async def writer(number: int) -> None:
            sequence = 0
            while not stop.is_set():
                sequence += 1
                started = time.monotonic()
                try:
                    response = await client.post(
                        "/api/v1/tasks", json={"title": f"c{number}-{sequence}"}, headers=headers
                    )
                except httpx.HTTPError as exc:
                    load.answers.append(
                        Answer(started, time.monotonic() - started, type(exc).__name__)
                    )
                    await asyncio.sleep(pause_after_error)
                    continue
                answer = Answer(started, time.monotonic() - started, response.status_code)
                if response.status_code == 201:
                    load.acknowledged.add(int(response.json()["id"]))
                else:
                    if response.headers.get("content-type", "").startswith(
                        "application/problem+json"
                    ):
                        answer.problem = response.json().get("type")
                    answer.retry_after = response.headers.get("retry-after")
                    await asyncio.sleep(pause_after_error)
                load.answers.append(answer)

        tasks = [asyncio.create_task(writer(n)) for n in range(clients)]
        try:
            await asyncio.sleep(warmup_seconds)
            await fault(load.timeline)
            await asyncio.sleep(settle_seconds)
        finally:
            stop.set()
            await asyncio.gather(*tasks, return_exceptions=True)
    return load
