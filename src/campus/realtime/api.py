"""Socket tickets (API.md §7): ``POST /api/v1/ws/ticket``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, status

from campus.http.deps import NO_STORE, SessionDep
from campus.http.identity import CurrentAuth
from campus.http.ratelimit import AUTH_RATE_LIMIT
from campus.kit.schemas import Schema
from campus.realtime import service

router = APIRouter(prefix="/ws", tags=["realtime"])


class TicketRead(Schema):
    ticket: str
    expires_in: int


@router.post(
    "/ticket",
    response_model=TicketRead,
    status_code=status.HTTP_201_CREATED,
    dependencies=[AUTH_RATE_LIMIT, NO_STORE],
    responses={
        401: {"description": "Not authenticated"},
        429: {"description": "Too many tickets (CAMPUS_RATE_LIMIT_AUTH, per IP)"},
    },
)
async def create_ticket(auth: CurrentAuth, session: SessionDep) -> Any:
    """A single-use ticket, valid 60 seconds, to open the socket without putting a
    long-lived token in a URL: `GET /api/v1/ws?ticket=...` (WebSocket).

    The socket belongs to the sign-in session of the token that asked for it and closes
    within seconds when that session ends. Frames (JSON text, at most 16 KiB): client
    `subscribe` / `unsubscribe` `{course_id}`, `chat.send` `{course_id, body}`, `ping`;
    server `subscribed`, `unsubscribed` (with `reason` `access-ended` when access to the
    course ended), `chat.message` `{message}`, `chat.message_edited`,
    `chat.message_deleted` `{course_id, message_id}`, `notification` `{notification}`,
    `pong`, `error` `{detail, code}`. The `Origin`, when sent, must be `CAMPUS_BASE_URL`'s
    or one of `CAMPUS_CORS_ORIGINS`. A flood of frames gets an error, then close 1008."""
    return await service.issue_ticket(session, user_id=auth.user.id, session_id=auth.session_id)
