"""Debian's nginx with the rendered Campus configuration in front of a real ``campus serve``.

What nginx answers itself (redirects, static files, its own 413/429/503) carries no
X-Request-ID; everything Campus answers does (nginx passes its $request_id)."""

from __future__ import annotations

import json
import secrets
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from websockets.sync.client import connect as ws_connect

from tests.deploy.conftest import require
from tests.deploy.harness import (
    NGINX_DIR,
    CampusServer,
    Nginx,
    https_client,
    iter_json_logs,
    render_nginx,
    wait_until,
)

CONN_PER_IP = 4


@pytest.fixture(scope="module")
def gateway(
    campus_server: CampusServer,
    tls_files: tuple[Path, Path, Path],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Nginx]:
    require("nginx", "nginx")
    require("envsubst", "gettext-base")
    cert, key, ca = tls_files
    nginx = render_nginx(
        tmp_path_factory.mktemp("nginx"),
        upstream=campus_server.upstream,
        cert=cert,
        key=key,
        chain=ca,
        acme_root=tmp_path_factory.mktemp("acme"),
        overrides={"CAMPUS_NGINX_CONN_PER_IP": str(CONN_PER_IP)},
    )
    selected = nginx.tls_script("select")
    assert selected.wait(timeout=10) == 0
    assert (nginx.prefix / "campus" / "enabled" / "https.conf").is_symlink()
    nginx.start()
    try:
        yield nginx
    finally:
        nginx.close()


@pytest.fixture
def client(gateway: Nginx, tls_files: tuple[Path, Path, Path]) -> Iterator[httpx.Client]:
    with https_client(gateway, tls_files[2]) as c:
        yield c


def test_rendered_configuration_passes_nginx_t(gateway: Nginx) -> None:
    result = gateway.test_config()
    assert result.returncode == 0, result.stderr
    assert "syntax is ok" in result.stderr
    rendered = (gateway.prefix / "campus" / "https.conf").read_text()
    # Set once, at http{} level, except the upload routes' larger limit.
    assert rendered.count("client_max_body_size") == 1
    assert "client_max_body_size 21037056;" in rendered
    assert "${CAMPUS_" not in rendered
    assert "client_max_body_size 1048576;" in (gateway.prefix / "campus" / "http.conf").read_text()


def test_render_refuses_an_unset_placeholder(tmp_path: Path) -> None:
    require("envsubst", "gettext-base")
    result = subprocess.run(
        ["sh", str(NGINX_DIR / "render.sh"), str(tmp_path)],
        env={"PATH": "/usr/bin:/bin", "CAMPUS_DOMAIN": "campus.test"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert "CAMPUS_UPSTREAM" in result.stdout + result.stderr


def test_plain_http_redirects_to_https_and_serves_acme_challenges(gateway: Nginx) -> None:
    base = f"http://127.0.0.1:{gateway.http_port}"
    response = httpx.get(f"{base}/courses?page=2", follow_redirects=False)
    assert response.status_code == 301
    assert response.headers["location"] == f"{gateway.env['CAMPUS_BASE_URL']}/courses?page=2"

    challenge = Path(gateway.env["CAMPUS_ACME_ROOT"]) / ".well-known" / "acme-challenge"
    challenge.mkdir(parents=True, exist_ok=True)
    (challenge / "token-123").write_text("token-123.thumbprint")
    response = httpx.get(f"{base}/.well-known/acme-challenge/token-123")
    assert response.status_code == 200
    assert response.text == "token-123.thumbprint"
    assert httpx.get(f"{base}/.well-known/acme-challenge/other").status_code == 404


def test_a_page_through_the_gateway(client: httpx.Client) -> None:
    response = client.get("/", headers={"Accept": "text/html"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "Campus" in response.text
    assert response.headers.get("x-request-id")  # answered by Campus
    assert response.headers.get_list("strict-transport-security") == [
        "max-age=63072000; includeSubDomains"
    ]
    assert response.headers["server"] == "nginx"  # no version
    # Campus believed nginx's X-Forwarded-Proto: its cookies are Secure.
    client.cookies.clear()
    login = client.get("/login")
    assert login.status_code == 200
    cookies = login.headers.get_list("set-cookie")
    assert cookies
    assert all("Secure" in cookie for cookie in cookies)


def test_static_files_come_from_nginx_with_caching_and_gzip(
    client: httpx.Client, campus_server: CampusServer
) -> None:
    response = client.get("/static/campus.css", headers={"Accept-Encoding": "gzip"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/css")
    assert response.headers["cache-control"] == "public, max-age=3600"
    assert response.headers["content-encoding"] == "gzip"
    assert "x-request-id" not in response.headers  # never reached Campus
    assert response.headers.get_list("strict-transport-security")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert not any(
        str(entry.get("path", "")).startswith("/static/")
        for entry in iter_json_logs(campus_server.log_lines())
    )
    assert client.get("/static/missing.css").status_code == 404


def test_the_api_and_the_real_client_address(
    client: httpx.Client, campus_server: CampusServer
) -> None:
    response = client.get(
        "/api/v1/courses", headers={"X-Forwarded-For": "203.0.113.7", "Accept": "application/json"}
    )
    assert response.status_code == 200
    body = response.json()
    assert set(body) >= {"items", "total", "page", "page_size", "pages"}
    request_id = response.headers["x-request-id"]

    def logged() -> bool:
        return any(
            e.get("request_id") == request_id for e in iter_json_logs(campus_server.log_lines())
        )

    wait_until(logged, timeout=5, what="the access log line")
    entry = next(
        e for e in iter_json_logs(campus_server.log_lines()) if e.get("request_id") == request_id
    )
    # The forged header is dropped: Campus sees the real peer nginx saw.
    assert entry["client"] == "127.0.0.1"
    assert entry["path"] == "/api/v1/courses"


def test_metrics_are_not_served_through_the_gateway(client: httpx.Client) -> None:
    response = client.get("/metrics")
    assert response.status_code == 404
    assert "x-request-id" not in response.headers


def test_bodies_over_the_campus_limit_are_refused_by_nginx(client: httpx.Client) -> None:
    response = client.post(
        "/api/v1/courses",
        content=b"{" + b" " * (1024 * 1024 + 16) + b"}",
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert "x-request-id" not in response.headers


def test_upload_routes_take_larger_bodies_and_only_they(client: httpx.Client) -> None:
    body = b"x" * (2 * 1024 * 1024)
    multipart = {"Content-Type": "multipart/form-data; boundary=b"}
    # Past nginx's general limit: Campus answers (here: not a valid multipart body), not
    # nginx's bare 413.
    upload = client.post("/api/v1/courses/1/media", content=body, headers=multipart)
    assert upload.status_code in (400, 401, 422)
    assert "x-request-id" in upload.headers
    other = client.post("/api/v1/courses/1/lessons", content=body, headers=multipart)
    assert other.status_code == 413
    assert "x-request-id" not in other.headers


def _bearer_token(campus_server: CampusServer) -> str:
    """A new student's access token, straight from Campus (not through nginx's sign-in zone)."""
    email = f"socket-{secrets.token_hex(4)}@example.org"
    password = "a-long-socket-password-1"
    with httpx.Client(base_url=f"http://{campus_server.upstream}", timeout=30) as direct:
        made = direct.post(
            "/api/v1/auth/register",
            json={"email": email, "password": password, "full_name": "Socket Tester"},
        )
        assert made.status_code == 201, made.text
        login = direct.post("/api/v1/auth/login", data={"username": email, "password": password})
        assert login.status_code == 200, login.text
        return str(login.json()["access_token"])


def test_the_socket_through_the_gateway(
    gateway: Nginx,
    client: httpx.Client,
    campus_server: CampusServer,
    tls_files: tuple[Path, Path, Path],
) -> None:
    if client.post("/api/v1/ws/ticket").status_code == 404:
        pytest.skip("no socket endpoint (/api/v1/ws) in this version of Campus")
    token = _bearer_token(campus_server)
    made = client.post("/api/v1/ws/ticket", headers={"Authorization": f"Bearer {token}"})
    assert made.status_code == 201, made.text
    ticket = made.json()["ticket"]
    context = ssl.create_default_context(cafile=str(tls_files[2]))
    with ws_connect(
        f"wss://127.0.0.1:{gateway.https_port}/api/v1/ws?ticket={ticket}",
        ssl=context,
        server_hostname="campus.test",
        origin="https://campus.test",  # campus_server's CAMPUS_BASE_URL
        open_timeout=20,
    ) as socket_:
        socket_.send(json.dumps({"type": "ping"}))
        while True:
            frame = json.loads(socket_.recv(timeout=20))
            if frame["type"] == "pong":
                break
    # Without the upgrade headers nginx passes, the same path is no socket.
    assert client.get(f"/api/v1/ws?ticket={ticket}").status_code in (400, 403, 404, 426)


def test_sign_in_zone_answers_429_from_nginx(client: httpx.Client) -> None:
    # GETs of the form pages are not counted.
    for _ in range(12):
        assert client.get("/register").status_code == 200
    statuses = []
    last = None
    for _ in range(10):
        last = client.post("/api/v1/auth/register", json={})
        statuses.append(last.status_code)
    # rate 10r/m, burst 5: the first six reach Campus (422: empty body), then nginx refuses.
    assert statuses[:6] == [422] * 6, statuses
    assert set(statuses[6:]) == {429}, statuses
    assert last is not None
    assert "x-request-id" not in last.headers
    assert last.headers["content-type"] == "application/problem+json"
    assert last.headers["retry-after"] == "10"
    problem = json.loads(last.text)
    assert problem["type"] == "/problems/rate-limited"
    assert problem["status"] == 429
    # Other API routes have their own zone and still work.
    assert client.get("/api/v1/courses").status_code == 200


def _open_pending_request(gateway: Nginx, ca: Path) -> ssl.SSLSocket:
    """A request whose body never comes: nginx holds it (and counts the connection)."""
    context = ssl.create_default_context(cafile=str(ca))
    raw = socket.create_connection(("127.0.0.1", gateway.https_port), timeout=10)
    sock = context.wrap_socket(raw, server_hostname="campus.test")
    sock.sendall(
        b"POST /api/v1/courses HTTP/1.1\r\nHost: campus.test\r\n"
        b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n"
    )
    return sock


def test_connections_per_address_answer_503_from_nginx(
    gateway: Nginx, client: httpx.Client, tls_files: tuple[Path, Path, Path]
) -> None:
    held = [_open_pending_request(gateway, tls_files[2]) for _ in range(CONN_PER_IP)]
    try:
        time.sleep(0.3)  # let nginx read the headers of every held request
        response = client.get("/api/v1/courses")
        assert response.status_code == 503
        assert "x-request-id" not in response.headers
        assert response.headers["content-type"] == "application/problem+json"
        assert json.loads(response.text)["type"] == "/problems/too-many-connections"
    finally:
        for sock in held:
            sock.close()
    wait_until(
        lambda: client.get("/api/v1/courses").status_code == 200,
        timeout=5,
        what="the connection limit to clear",
    )
