"""Makes the app's job queue the current one for each request (pure ASGI)."""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from campus.jobs.queue import JobQueue, use_queue


class JobQueueMiddleware:
    def __init__(self, app: ASGIApp, *, queue: JobQueue) -> None:
        self.app = app
        self.queue = queue

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        use_queue(self.queue)
        await self.app(scope, receive, send)
