"""Payments JSON API (API.md §8): checkout, the Stripe webhook, purchase lists."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request, Response, status

from campus.http.deps import MAX_ID, IdPath, SessionDep, SettingsDep, page_params, page_response
from campus.http.identity import AdminUser, CurrentUser
from campus.kit.pagination.envelope import Page
from campus.kit.pagination.params import PageParams
from campus.payments import service
from campus.payments.gateway import StripeGateway
from campus.payments.schemas import (
    CheckoutRead,
    PaymentAdminRead,
    PaymentRead,
    PaymentStatus,
    WebhookAck,
)

router = APIRouter(tags=["payments"])

CourseId = Annotated[int, IdPath("Course id")]
PaymentPageParams = Annotated[PageParams, Depends(page_params(service.SORTS, "-created_at"))]


def get_gateway(request: Request) -> StripeGateway | None:
    """The app's Stripe gateway (None when no secret key is configured)."""
    gateway: StripeGateway | None = getattr(request.app.state, "stripe_gateway", None)
    return gateway


GatewayDep = Annotated[StripeGateway | None, Depends(get_gateway)]


@router.post(
    "/courses/{course_id}/checkout",
    response_model=CheckoutRead,
    status_code=status.HTTP_201_CREATED,
    responses={
        401: {"description": "Not authenticated"},
        404: {"description": "No such course, a draft, or not visible to you"},
        409: {
            "description": (
                "Free course (`course-is-free`), already enrolled (`already-enrolled`), "
                "bought before (`already-purchased`: enroll instead), your own course "
                "(`own-course`)"
            )
        },
        502: {"description": "Stripe refused or failed (`payment-provider-error`)"},
        503: {"description": "Payments are not configured (`payments-not-configured`)"},
    },
)
async def create_checkout(
    course_id: CourseId,
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    gateway: GatewayDep,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            min_length=1,
            max_length=200,
            description=(
                "Optional. Requests with the same key (for the same course and price) get the "
                "same Checkout Session. Without one, repeated requests within 15 minutes do."
            ),
        ),
    ] = None,
) -> Any:
    """Open a Stripe Checkout Session for the course at its current price; send the buyer
    to `checkout_url`. Stripe returns them to `/courses/{id}/purchase?session_id=...` (or
    to the course on cancel); the webhook enrolls them once Stripe confirms the payment."""
    return await service.start_checkout(
        session, settings, gateway, user, course_id=course_id, idempotency_key=idempotency_key
    )


@router.post(
    "/payments/stripe/webhook",
    response_model=WebhookAck,
    responses={
        400: {"description": "Missing, malformed, stale or wrong signature; or not JSON"},
        503: {"description": "The webhook secret is not configured"},
    },
)
async def stripe_webhook(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    gateway: GatewayDep,
    stripe_signature: Annotated[str | None, Header(alias="Stripe-Signature")] = None,
) -> Any:
    """Stripe's events, signed with the endpoint's secret (`Stripe-Signature`, 300 s
    tolerance). Each event takes effect once, whatever the number and order of deliveries.
    Handled: `checkout.session.completed`, `checkout.session.async_payment_succeeded`,
    `checkout.session.async_payment_failed`, `charge.refunded`; other types are answered 200
    and ignored."""
    payload = await request.body()
    outcome = await service.handle_webhook(
        session, settings, gateway, payload=payload, signature=stripe_signature
    )
    return WebhookAck(outcome=outcome)


@router.get(
    "/me/payments",
    response_model=Page[PaymentRead],
    responses={401: {"description": "Not authenticated"}},
)
async def list_my_payments(
    request: Request,
    response: Response,
    user: CurrentUser,
    session: SessionDep,
    params: PaymentPageParams,
) -> Any:
    """Your own purchases, every status (`pending`, `paid`, `failed`, `refunded`)."""
    result = await service.list_my_payments(session, user, params=params)
    return page_response(request, response, result)


@router.get(
    "/payments",
    response_model=Page[PaymentAdminRead],
    responses={401: {"description": "Not authenticated"}, 403: {"description": "Not an admin"}},
)
async def list_payments(
    request: Request,
    response: Response,
    user: AdminUser,
    session: SessionDep,
    params: PaymentPageParams,
    status_filter: Annotated[PaymentStatus | None, Query(alias="status")] = None,
    user_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    course_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
) -> Any:
    """Every payment (admins): filters `status`, `user_id`, `course_id`, `created_after`,
    `created_before` (inclusive)."""
    filters = service.PaymentFilters(
        user_id=user_id,
        course_id=course_id,
        status=status_filter,
        created_after=created_after,
        created_before=created_before,
    )
    result = await service.list_payments(session, user, filters=filters, params=params)
    return page_response(request, response, result)
