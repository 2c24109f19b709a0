"""Loopback HTTP servers that speak the SendGrid and Mailgun send APIs.

Each checks a request the way the provider does — path, method, auth, content type and
the required fields — answers like the provider (status and error body), and keeps the
accepted messages. ``script`` queues canned answers (a 429, a 503, a 400) for the next
requests, to drive retries and permanent failures. Real TCP on 127.0.0.1, so the app's
httpx client (or a ``campus worker`` subprocess) talks to it as to the real service.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs


@dataclass
class Answer:
    status: int
    body: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)


class ProviderServer:
    def __init__(self) -> None:
        self.accepted: list[dict[str, Any]] = []
        self.requests = 0
        self.script: list[Answer] = []
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                with server.lock:
                    server.requests += 1
                    scripted = server.script.pop(0) if server.script else None
                answer = scripted or server.handle(self.path, dict(self.headers.items()), raw)
                payload = b"" if answer.body is None else json.dumps(answer.body).encode()
                self.send_response(answer.status)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                if answer.body is not None:
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def start(self) -> ProviderServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def handle(self, path: str, headers: dict[str, str], raw: bytes) -> Answer:
        raise NotImplementedError

    def wait_for(self, count: int, timeout: float = 15.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.accepted) >= count:
                    return list(self.accepted)
            time.sleep(0.02)
        raise AssertionError(f"{len(self.accepted)} messages accepted, expected {count}")


def _header(headers: dict[str, str], name: str) -> str:
    for key, value in headers.items():
        if key.lower() == name.lower():
            return value
    return ""


INVALID_GRANT = "The provided authorization grant is invalid, expired, or revoked"
TO_REQUIRED = (
    "The to array is required for all personalization objects, and must have at least "
    "one email object with a valid email address."
)
SUBJECT_REQUIRED = (
    "The subject is required. You can get around this requirement if you use a template "
    "with a subject defined or if every personalization has a subject defined."
)


class SendGridServer(ProviderServer):
    """``POST /v3/mail/send`` with ``Authorization: Bearer <key>`` and a JSON body."""

    def __init__(self, api_key: str) -> None:
        super().__init__()
        self.api_key = api_key

    def handle(self, path: str, headers: dict[str, str], raw: bytes) -> Answer:
        if path != "/v3/mail/send":
            return Answer(404, {"errors": [{"message": "Not found", "field": None}]})
        scheme, _, token = _header(headers, "Authorization").partition(" ")
        if scheme != "Bearer" or token != self.api_key:
            return Answer(
                401,
                {
                    "errors": [
                        {
                            "message": INVALID_GRANT,
                            "field": None,
                            "help": None,
                        }
                    ]
                },
            )
        if not _header(headers, "Content-Type").startswith("application/json"):
            return Answer(
                415, {"errors": [{"message": "Content-Type should be application/json."}]}
            )
        try:
            body = json.loads(raw)
        except ValueError:
            return Answer(400, {"errors": [{"message": "Bad Request", "field": None}]})
        problems = []
        tos = [
            t.get("email") for p in body.get("personalizations") or [] for t in p.get("to") or []
        ]
        if not tos or not all(tos):
            problems.append(
                (
                    "personalizations.0.to",
                    TO_REQUIRED,
                )
            )
        if not (body.get("from") or {}).get("email"):
            problems.append(("from.email", "The from email does not contain a valid address."))
        if not body.get("subject"):
            problems.append(
                (
                    "subject",
                    SUBJECT_REQUIRED,
                )
            )
        content = body.get("content") or []
        if not content or content[0].get("type") != "text/plain":
            problems.append(
                (
                    "content",
                    "If present, text/plain content must be first, followed by any other content.",
                )
            )
        if problems:
            return Answer(
                400, {"errors": [{"message": m, "field": f, "help": None} for f, m in problems]}
            )
        with self.lock:
            self.accepted.append(body)
        return Answer(202, None, {"X-Message-Id": f"sg-{len(self.accepted)}"})


class MailgunServer(ProviderServer):
    """``POST /v3/<domain>/messages`` with basic auth ``api:<key>`` and form fields."""

    def __init__(self, api_key: str, domain: str) -> None:
        super().__init__()
        self.api_key = api_key
        self.domain = domain

    def handle(self, path: str, headers: dict[str, str], raw: bytes) -> Answer:
        if path != f"/v3/{self.domain}/messages":
            return Answer(
                404,
                {"message": "Domain not found"},
            )
        expected = "Basic " + base64.b64encode(f"api:{self.api_key}".encode()).decode()
        if _header(headers, "Authorization") != expected:
            return Answer(401, {"message": "Invalid private key"})
        if not _header(headers, "Content-Type").startswith("application/x-www-form-urlencoded"):
            return Answer(400, {"message": "'from' parameter is missing"})
        fields = {k: v[0] for k, v in parse_qs(raw.decode(), keep_blank_values=True).items()}
        for required in ("from", "to"):
            if not fields.get(required):
                return Answer(400, {"message": f"'{required}' parameter is missing"})
        if not (fields.get("text") or fields.get("html")):
            return Answer(
                400, {"message": "Need at least one of 'text' or 'html' parameters specified"}
            )
        with self.lock:
            self.accepted.append(fields)
            count = len(self.accepted)
        return Answer(200, {"id": f"<{count}.mg@{self.domain}>", "message": "Queued. Thank you."})
