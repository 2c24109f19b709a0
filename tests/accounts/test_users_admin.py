"""Admin user management (API.md §2): admin only, filters, sort, the last-admin rule."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from campus.config import Settings
from campus.models.accounts import User, UserRole
from campus.models.courses import Course
from tests.accounts.conftest import login
from tests.factories import DEFAULT_PASSWORD, auth_headers, create_user

USERS = "/api/v1/users"


async def _admin(session: AsyncSession, settings: Settings) -> tuple[User, dict[str, str]]:
    admin = await create_user(session, settings, role=UserRole.ADMIN)
    return admin, await auth_headers(session, settings, admin)


async def test_list_filters_sort_and_envelope(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    _admin_user, headers = await _admin(session, settings)
    made = [
        await create_user(
            session,
            settings,
            role=role,
            email=f"{name}@zeta.example",
            full_name=f"Zed {name}",
            is_active=active,
        )
        for name, role, active in [
            ("carol", UserRole.TEACHER, True),
            ("alice", UserRole.STUDENT, True),
            ("bob", UserRole.STUDENT, False),
        ]
    ]
    page = (
        await client.get(USERS, params={"q": "ZETA.example", "sort": "email"}, headers=headers)
    ).json()
    assert [u["email"] for u in page["items"]] == [
        "alice@zeta.example",
        "bob@zeta.example",
        "carol@zeta.example",
    ]
    assert page["total"] == 3
    assert page["page"] == 1
    assert page["page_size"] == 20
    assert page["pages"] == 1
    assert set(page["items"][0]) == {
        "id",
        "email",
        "full_name",
        "role",
        "is_active",
        "is_verified",
        "created_at",
    }
    desc = (await client.get(USERS, params={"q": "zeta", "sort": "-email"}, headers=headers)).json()
    assert [u["email"][0] for u in desc["items"]] == ["c", "b", "a"]
    by_created = (
        await client.get(USERS, params={"q": "zeta", "sort": "created_at"}, headers=headers)
    ).json()
    assert [u["id"] for u in by_created["items"]] == [u.id for u in made]
    students = (
        await client.get(USERS, params={"q": "zed", "role": "student"}, headers=headers)
    ).json()
    assert {u["email"] for u in students["items"]} == {"alice@zeta.example", "bob@zeta.example"}
    inactive = (
        await client.get(USERS, params={"q": "zeta", "is_active": "false"}, headers=headers)
    ).json()
    assert [u["email"] for u in inactive["items"]] == ["bob@zeta.example"]
    paged = (
        await client.get(
            USERS, params={"q": "zeta", "limit": 2, "skip": 2, "sort": "email"}, headers=headers
        )
    ).json()
    assert paged["page"] == 2
    assert paged["pages"] == 2
    assert [u["email"] for u in paged["items"]] == ["carol@zeta.example"]
    # LIKE wildcards in q are literal
    assert (await client.get(USERS, params={"q": "%"}, headers=headers)).json()["total"] == 0
    assert "password" not in str(page).lower()


@pytest.mark.parametrize(
    "params",
    [
        {"role": "king"},
        {"is_active": "maybe"},
        {"q": "x" * 201},
        {"sort": "password_hash"},
        {"limit": 0},
        {"limit": 101},
        {"skip": -1},
    ],
)
async def test_bad_list_parameters_are_422(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, params: dict[str, object]
) -> None:
    _admin_user, headers = await _admin(session, settings)
    assert (await client.get(USERS, params=params, headers=headers)).status_code == 422


@pytest.mark.parametrize("role", [UserRole.TEACHER, UserRole.STUDENT])
async def test_only_admins_even_on_their_own_id(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, role: UserRole
) -> None:
    user = await create_user(session, settings, role=role)
    headers = await auth_headers(session, settings, user)
    own = f"{USERS}/{user.id}"
    assert (await client.get(USERS, headers=headers)).status_code == 403
    assert (await client.get(own, headers=headers)).status_code == 403
    assert (await client.patch(own, json={"role": "admin"}, headers=headers)).status_code == 403
    assert (await client.delete(own, headers=headers)).status_code == 403
    await session.refresh(user)
    assert user.role == role


async def test_anonymous_gets_401(client: httpx.AsyncClient) -> None:
    for method, path in [
        ("GET", USERS),
        ("GET", f"{USERS}/1"),
        ("PATCH", f"{USERS}/1"),
        ("DELETE", f"{USERS}/1"),
    ]:
        response = await client.request(method, path, json={} if method == "PATCH" else None)
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"


async def test_get_patch_and_unknown_ids(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    _admin_user, headers = await _admin(session, settings)
    user = await create_user(session, settings, full_name="Old Name")
    got = await client.get(f"{USERS}/{user.id}", headers=headers)
    assert got.status_code == 200
    assert got.json()["email"] == user.email
    patched = await client.patch(
        f"{USERS}/{user.id}", json={"full_name": "New Name", "role": "teacher"}, headers=headers
    )
    assert patched.status_code == 200
    assert patched.json()["full_name"] == "New Name"
    assert patched.json()["role"] == "teacher"
    assert patched.json()["is_active"] is True
    for path in [f"{USERS}/999999", f"{USERS}/0", f"{USERS}/abc", f"{USERS}/99999999999"]:
        assert (await client.get(path, headers=headers)).status_code in (404, 422)
    assert (await client.get(f"{USERS}/999999", headers=headers)).status_code == 404
    assert (await client.delete(f"{USERS}/999999", headers=headers)).status_code == 404
    for body in [
        {"role": "king"},
        {"is_active": None},
        {"full_name": ""},
        {"email": "x@y.com"},
        {"password": "a-long-passphrase"},
        {"role": None},
    ]:
        response = await client.patch(f"{USERS}/{user.id}", json=body, headers=headers)
        assert response.status_code == 422, body


async def test_deactivation_ends_sessions_and_blocks_login(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    _admin_user, headers = await _admin(session, settings)
    user = await create_user(session, settings)
    tokens = (await login(client, user.email, DEFAULT_PASSWORD)).json()
    user_headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    response = await client.patch(f"{USERS}/{user.id}", json={"is_active": False}, headers=headers)
    assert response.status_code == 200
    assert response.json()["is_active"] is False
    assert (await client.get("/api/v1/auth/me", headers=user_headers)).status_code == 401
    refresh = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
    )
    assert refresh.status_code == 401
    assert (await login(client, user.email, DEFAULT_PASSWORD)).status_code == 403
    # re-activated: can sign in again, old sessions stay ended
    await client.patch(f"{USERS}/{user.id}", json={"is_active": True}, headers=headers)
    assert (await login(client, user.email, DEFAULT_PASSWORD)).status_code == 200
    assert (await client.get("/api/v1/auth/me", headers=user_headers)).status_code == 401


async def test_the_last_active_admin_stays(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    admin, headers = await _admin(session, settings)
    # an inactive admin does not count
    await create_user(session, settings, role=UserRole.ADMIN, is_active=False)
    own = f"{USERS}/{admin.id}"
    for body in [{"role": "teacher"}, {"is_active": False}, {"role": "student", "is_active": True}]:
        response = await client.patch(own, json=body, headers=headers)
        assert response.status_code == 409, body
        assert response.json()["type"].endswith("last-admin")
    deleted = await client.delete(own, headers=headers)
    assert deleted.status_code == 409
    # a harmless change to the last admin is fine
    assert (
        await client.patch(own, json={"full_name": "Still Admin", "role": "admin"}, headers=headers)
    ).status_code == 200
    # with a second active admin, the first may step down
    second = await create_user(session, settings, role=UserRole.ADMIN)
    assert (await client.patch(own, json={"role": "teacher"}, headers=headers)).status_code == 200
    second_headers = await auth_headers(session, settings, second)
    assert (await client.delete(f"{USERS}/{second.id}", headers=second_headers)).status_code == 409
    assert (
        await client.patch(
            f"{USERS}/{second.id}", json={"is_active": False}, headers=second_headers
        )
    ).status_code == 409


async def test_delete_user_and_their_data(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    _admin_user, headers = await _admin(session, settings)
    user = await create_user(session, settings)
    user_headers = await auth_headers(session, settings, user)
    response = await client.delete(f"{USERS}/{user.id}", headers=headers)
    assert response.status_code == 204
    assert response.content == b""
    assert (await client.get(f"{USERS}/{user.id}", headers=headers)).status_code == 404
    assert (await client.get("/api/v1/auth/me", headers=user_headers)).status_code == 401
    assert (await login(client, user.email, DEFAULT_PASSWORD)).status_code == 401


async def test_deleting_a_teacher_with_courses_is_409(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    _admin_user, headers = await _admin(session, settings)
    teacher = await create_user(session, settings, role=UserRole.TEACHER)
    session.add(
        Course(slug=f"c-{teacher.id}", title="Owned", description="", teacher_id=teacher.id)
    )
    await session.flush()
    response = await client.delete(f"{USERS}/{teacher.id}", headers=headers)
    assert response.status_code == 409
    assert response.json()["type"].endswith("user-has-courses")
    assert "courses" in response.json()["detail"]
    assert (await session.execute(select(User).where(User.id == teacher.id))).scalar_one()


async def test_concurrent_demotions_keep_one_admin(
    committed_client: httpx.AsyncClient, engine: AsyncEngine, settings: Settings
) -> None:
    async with AsyncSession(engine, expire_on_commit=False) as session:
        first = await create_user(session, settings, role=UserRole.ADMIN, email="a1@x.example")
        second = await create_user(session, settings, role=UserRole.ADMIN, email="a2@x.example")
        first_headers = await auth_headers(session, settings, first)
        second_headers = await auth_headers(session, settings, second)
        await session.commit()
    results = await asyncio.gather(
        committed_client.patch(
            f"{USERS}/{second.id}", json={"role": "student"}, headers=first_headers
        ),
        committed_client.patch(
            f"{USERS}/{first.id}", json={"is_active": False}, headers=second_headers
        ),
    )
    statuses = sorted(r.status_code for r in results)
    # one change wins; the other finds the last admin (403 if its own admin was demoted
    # first and so lost the right to ask)
    assert statuses[0] == 200, [r.text for r in results]
    assert statuses[1] in (403, 409), [r.text for r in results]
    async with AsyncSession(engine) as session:
        admins = (
            (
                await session.execute(
                    select(User).where(User.role == UserRole.ADMIN, User.is_active.is_(True))
                )
            )
            .scalars()
            .all()
        )
    assert len(admins) == 1
