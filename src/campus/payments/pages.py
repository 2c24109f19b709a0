"""Payment pages: buy a course (to Stripe Checkout and back), and the buyer's purchases."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Response

from campus.errors import BadGateway, Conflict, ServiceUnavailable
from campus.http.deps import IdPath, SessionDep
from campus.http.identity import CurrentUser
from campus.http.web import WebPage, page_params, page_router
from campus.kit.i18n import gettext as _
from campus.learning import service as learning_service
from campus.payments import service

router = page_router()

CourseId = Annotated[int, IdPath("Course id")]
SessionId = Annotated[str, Query(min_length=1, max_length=255, pattern=r"^[A-Za-z0-9_]+$")]
PURCHASES_PAGE_SIZE = 20


@router.post("/courses/{course_id}/checkout")
async def checkout_page(
    page: WebPage, session: SessionDep, course_id: CourseId, user: CurrentUser
) -> Response:
    """The course page's buy button: open a Checkout Session, then go to Stripe."""
    course_url = f"/courses/{course_id}"
    gateway = getattr(page.request.app.state, "stripe_gateway", None)
    try:
        result = await service.start_checkout(
            session, page.settings, gateway, user, course_id=course_id
        )
    except Conflict as exc:
        if exc.code == "already-purchased":  # bought before and left: back in, no charge
            await learning_service.enroll_student(session, user, course_id=course_id)
            return page.redirect(
                course_url, flash=_("You bought this course before: welcome back.")
            )
        return page.redirect(course_url, flash=exc.localized(), kind="info")
    except ServiceUnavailable as exc:
        return page.redirect(course_url, flash=exc.localized(), kind="error")
    except BadGateway:
        return page.redirect(
            course_url, flash=_("The payment provider failed; please try again."), kind="error"
        )
    return page.redirect(f"{course_url}/checkout?session_id={result.session_id}")


@router.get("/courses/{course_id}/checkout")
async def checkout_redirect_page(
    page: WebPage,
    session: SessionDep,
    course_id: CourseId,
    user: CurrentUser,
    session_id: SessionId,
) -> Response:
    """A local step on the way to Stripe: the page's CSP allows forms to post to this site
    only (``form-action 'self'``), so the buy form lands here and a meta refresh (and a
    link) take the buyer to Checkout."""
    payment, enrolled = await service.get_my_payment_for_session(
        session, user, course_id=course_id, checkout_session_id=session_id
    )
    if enrolled or payment.status.value != "pending" or not payment.checkout_url:
        return page.redirect(f"/courses/{course_id}/purchase?session_id={session_id}")
    return page.render("payments/redirect.html", {"payment": payment})


@router.get("/courses/{course_id}/purchase")
async def purchase_page(
    page: WebPage,
    session: SessionDep,
    course_id: CourseId,
    user: CurrentUser,
    session_id: SessionId,
) -> Response:
    """Stripe's success URL: the payment received and the buyer enrolled, or still
    processing until the webhook lands (the page refreshes itself meanwhile)."""
    payment, enrolled = await service.get_my_payment_for_session(
        session, user, course_id=course_id, checkout_session_id=session_id
    )
    titles = await service.course_titles(session, [payment])
    return page.render(
        "payments/purchase.html",
        {
            "payment": payment,
            "enrolled": enrolled,
            "course_title": titles.get(course_id, "the course"),
            "first_lesson_id": await service.first_lesson_id(session, user, course_id=course_id),
        },
    )


@router.get("/courses/{course_id}/purchase/cancelled")
async def purchase_cancelled_page(
    page: WebPage, course_id: CourseId, user: CurrentUser
) -> Response:
    """Stripe's cancel URL: back to the course."""
    return page.redirect(
        f"/courses/{course_id}",
        flash=_("Checkout cancelled: you have not been charged."),
        kind="info",
    )


@router.get("/account/payments")
async def my_payments_page(
    page: WebPage,
    session: SessionDep,
    user: CurrentUser,
    p: Annotated[int, Query(ge=1, le=10_000)] = 1,
) -> Response:
    params = page_params(p, PURCHASES_PAGE_SIZE, sort="-created_at")
    result = await service.list_my_payments(session, user, params=params)
    return page.render(
        "payments/purchases.html",
        {
            "payments": result.items,
            "titles": await service.course_titles(session, result.items),
            "total": result.total,
            "page_number": result.page,
            "pages": result.pages,
        },
    )
