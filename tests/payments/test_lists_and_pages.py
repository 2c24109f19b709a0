"""Purchase lists (own, admin), the teacher's sales, and the payment pages over HTTP."""

from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from campus.models.payments import Payment, PaymentStatus
from tests.factories import DEFAULT_PASSWORD
from tests.pagehelpers import HTML, post_form, sign_in
from tests.payments.conftest import World, checkout, send
from tests.payments.fakestripe import FakeStripe


async def paid_purchase(client: httpx.AsyncClient, fake: FakeStripe, world: World, who: str) -> str:
    sid = str((await checkout(client, world.course.id, world.h[who])).json()["session_id"])
    assert (await send(client, fake, fake.complete(sid))).json()["outcome"] == "paid"
    return sid


async def test_my_payments_are_my_own(
    pay_client: httpx.AsyncClient, fake_stripe: FakeStripe, world: World
) -> None:
    await paid_purchase(pay_client, fake_stripe, world, "student")
    await checkout(pay_client, world.course.id, world.h["other"])  # pending, someone else's
    r = await pay_client.get("/api/v1/me/payments", headers=world.h["student"])
    assert r.status_code == 200
    body = r.json()
    assert body["total"] == 1
    assert body["page"] == 1
    assert body["pages"] == 1
    assert body["page_size"] == 20
    (item,) = body["items"]
    assert set(item) == {"id", "course_id", "amount_cents", "currency", "status", "created_at"}
    assert (item["course_id"], item["amount_cents"], item["currency"], item["status"]) == (
        world.course.id,
        1999,
        "USD",
        "paid",
    )
    assert item["created_at"].endswith(("+00:00", "Z"))
    other = await pay_client.get("/api/v1/me/payments", headers=world.h["other"])
    assert [i["status"] for i in other.json()["items"]] == ["pending"]
    assert (await pay_client.get("/api/v1/me/payments")).status_code == 401
    bad = await pay_client.get("/api/v1/me/payments?sort=user_id", headers=world.h["student"])
    assert bad.status_code == 422


async def test_admin_lists_every_payment_with_filters(
    pay_client: httpx.AsyncClient, fake_stripe: FakeStripe, world: World
) -> None:
    await paid_purchase(pay_client, fake_stripe, world, "student")
    await checkout(pay_client, world.course.id, world.h["other"])
    admin = world.h["admin"]
    every = await pay_client.get("/api/v1/payments", headers=admin)
    assert every.status_code == 200
    assert every.json()["total"] == 2
    paid = await pay_client.get("/api/v1/payments?status=paid", headers=admin)
    assert [i["user_id"] for i in paid.json()["items"]] == [world.student.id]
    assert paid.json()["items"][0]["payment_intent_id"].startswith("pi_test_")
    mine = await pay_client.get(f"/api/v1/payments?user_id={world.other.id}", headers=admin)
    assert [i["status"] for i in mine.json()["items"]] == ["pending"]
    by_course = await pay_client.get(f"/api/v1/payments?course_id={world.free.id}", headers=admin)
    assert by_course.json()["total"] == 0
    window = await pay_client.get(
        "/api/v1/payments?created_after=2000-01-01T00:00:00&created_before=2000-01-02T00:00:00",
        headers=admin,
    )
    assert window.status_code == 200
    assert window.json()["total"] == 0
    upside_down = await pay_client.get(
        "/api/v1/payments?created_after=2030-01-01T00:00:00Z&created_before=2020-01-01T00:00:00Z",
        headers=admin,
    )
    assert upside_down.status_code == 422
    assert (await pay_client.get("/api/v1/payments?status=lost", headers=admin)).status_code == 422
    for who in ("student", "teacher"):
        r = await pay_client.get("/api/v1/payments", headers=world.h[who])
        assert r.status_code == 403
    assert (await pay_client.get("/api/v1/payments")).status_code == 401


async def test_the_teacher_sees_sales_and_revenue_on_teach(
    pay_client: httpx.AsyncClient,
    fake_stripe: FakeStripe,
    world: World,
    session: AsyncSession,
) -> None:
    await paid_purchase(pay_client, fake_stripe, world, "student")
    await paid_purchase(pay_client, fake_stripe, world, "other")
    await sign_in(pay_client, world.teacher.email, DEFAULT_PASSWORD)
    teach = await pay_client.get("/teach", headers=HTML)
    assert teach.status_code == 200
    assert "Sales" in teach.text
    assert "2 · $39.98" in teach.text
    # Refunds are neither sales nor revenue.
    payment = Payment(
        user_id=world.admin.id,
        course_id=world.course.id,
        amount_cents=1999,
        currency="USD",
        status=PaymentStatus.REFUNDED,
        checkout_session_id="cs_test_refunded_one",
    )
    session.add(payment)
    await session.flush()
    assert "2 · $39.98" in (await pay_client.get("/teach", headers=HTML)).text


async def test_course_page_buy_button_goes_to_checkout_and_back(
    pay_client: httpx.AsyncClient, fake_stripe: FakeStripe, world: World
) -> None:
    await sign_in(pay_client, world.student.email, DEFAULT_PASSWORD)
    course_url = f"/courses/{world.course.id}"
    page = await pay_client.get(course_url, headers=HTML)
    assert "Buy for $19.99" in page.text
    assert f'action="/courses/{world.course.id}/checkout"' in page.text
    r = await post_form(pay_client, f"{course_url}/checkout", {}, from_page=course_url)
    assert r.status_code == 303
    step = r.headers["location"]
    assert step.startswith(f"{course_url}/checkout?session_id=cs_test_")
    sid = step.split("session_id=")[1]
    redirect = await pay_client.get(step, headers=HTML)
    assert redirect.status_code == 200
    checkout_url = f"{fake_stripe.url}/c/pay/{sid}"
    assert f'<meta http-equiv="refresh" content="0;url={checkout_url}">' in redirect.text
    assert f'href="{checkout_url}"' in redirect.text
    # Back from Stripe before the webhook: processing (the page refreshes itself).
    processing = await pay_client.get(f"{course_url}/purchase?session_id={sid}", headers=HTML)
    assert processing.status_code == 200
    assert "Processing your payment" in processing.text
    assert '<meta http-equiv="refresh" content="3">' in processing.text
    await send(pay_client, fake_stripe, fake_stripe.complete(sid))
    done = await pay_client.get(f"{course_url}/purchase?session_id={sid}", headers=HTML)
    assert "Payment received — you are enrolled" in done.text
    assert 'http-equiv="refresh"' not in done.text
    assert f"/courses/{world.course.id}/lessons/" in done.text
    # The step page after payment goes on to the result.
    after = await pay_client.get(step, headers=HTML)
    assert after.status_code == 303
    purchases = await pay_client.get("/account/payments", headers=HTML)
    assert purchases.status_code == 200
    assert "Paid Python" in purchases.text
    assert "$19.99" in purchases.text
    assert "Paid" in purchases.text
    cancelled = await pay_client.get(f"{course_url}/purchase/cancelled", headers=HTML)
    assert cancelled.status_code == 303
    assert cancelled.headers["location"] == course_url


async def test_someone_elses_purchase_page_is_404(
    pay_client: httpx.AsyncClient, fake_stripe: FakeStripe, world: World
) -> None:
    sid = await paid_purchase(pay_client, fake_stripe, world, "student")
    await sign_in(pay_client, world.other.email, DEFAULT_PASSWORD)
    url = f"/courses/{world.course.id}/purchase?session_id={sid}"
    assert (await pay_client.get(url, headers=HTML)).status_code == 404
    step = f"/courses/{world.course.id}/checkout?session_id={sid}"
    assert (await pay_client.get(step, headers=HTML)).status_code == 404
    wrong_course = f"/courses/{world.free.id}/purchase?session_id={sid}"
    assert (await pay_client.get(wrong_course, headers=HTML)).status_code == 404
    weird = f"/courses/{world.course.id}/purchase?session_id=../../x"
    assert (await pay_client.get(weird, headers=HTML)).status_code in (404, 422)


async def test_anonymous_pages_go_to_sign_in(pay_client: httpx.AsyncClient, world: World) -> None:
    for path in ("/account/payments", f"/courses/{world.course.id}/purchase?session_id=cs_x"):
        r = await pay_client.get(path, headers=HTML)
        assert r.status_code == 303
        assert r.headers["location"].startswith("/login?next=")


async def test_checkout_form_without_csrf_is_403(
    pay_client: httpx.AsyncClient, fake_stripe: FakeStripe, world: World
) -> None:
    await sign_in(pay_client, world.student.email, DEFAULT_PASSWORD)
    before = len(fake_stripe.requests)
    r = await pay_client.post(f"/courses/{world.course.id}/checkout", data={}, headers=HTML)
    assert r.status_code == 403
    assert len(fake_stripe.requests) == before


async def test_without_stripe_the_course_page_says_payments_are_not_configured(
    client: httpx.AsyncClient, world: World
) -> None:
    await sign_in(client, world.student.email, DEFAULT_PASSWORD)
    course_url = f"/courses/{world.course.id}"
    page = await client.get(course_url, headers=HTML)
    assert "Payments are not configured on this site" in page.text
    assert "Buy for" not in page.text
    r = await post_form(client, f"{course_url}/checkout", {}, from_page=course_url)
    assert r.status_code == 303
    assert r.headers["location"] == course_url
    shown = await client.get(course_url, headers=HTML)
    assert "Payments are not configured on this server" in shown.text


async def test_a_buyer_who_left_is_enrolled_again_by_the_buy_button(
    pay_client: httpx.AsyncClient, fake_stripe: FakeStripe, world: World
) -> None:
    await paid_purchase(pay_client, fake_stripe, world, "student")
    url = f"/api/v1/courses/{world.course.id}/enrollment"
    assert (await pay_client.delete(url, headers=world.h["student"])).status_code == 204
    await sign_in(pay_client, world.student.email, DEFAULT_PASSWORD)
    course_url = f"/courses/{world.course.id}"
    before = len(fake_stripe.sessions)
    r = await post_form(pay_client, f"{course_url}/checkout", {}, from_page=course_url)
    assert r.status_code == 303
    assert r.headers["location"] == course_url
    assert len(fake_stripe.sessions) == before  # no new charge
    page = await pay_client.get(course_url, headers=HTML)
    assert "You bought this course before: welcome back." in page.text
    assert "Enrolled" in page.text
