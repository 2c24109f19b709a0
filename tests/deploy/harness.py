"""Real processes for the deployment tests: Debian's nginx with the rendered Campus
configuration, and a real ``campus serve`` behind it (its own SQLite file, migrated with
``campus migrate upgrade head`` as the compose migration service does)."""

from __future__ import annotations

import base64
import os
import secrets
import shutil
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
NGINX_DIR = DEPLOY / "nginx"
CAMPUS_BIN = Path(sys.executable).with_name("campus")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(
    port: int, *, timeout: float = 60.0, process: subprocess.Popen[bytes] | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(
                f"process exited with {process.returncode} before port {port} opened"
            )
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


def wait_until(check: object, *, timeout: float = 20.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(check) and check():
            return
        time.sleep(0.2)
    raise TimeoutError(f"{what} not reached after {timeout}s")


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def make_certificate(
    directory: Path, *, names: tuple[str, ...], ca: bool = True
) -> tuple[Path, Path, Path]:
    """A throw-away CA and a server certificate for ``names`` (DNS names or IPs).
    Returns (certificate, key, ca certificate)."""
    directory.mkdir(parents=True, exist_ok=True)
    ca_key, ca_cert = directory / "ca.key", directory / "ca.pem"
    key, csr, cert = directory / "key.pem", directory / "server.csr", directory / "cert.pem"
    ext = directory / "ext.cnf"
    sans = ",".join(
        f"IP:{n}" if n.replace(".", "").isdigit() or ":" in n else f"DNS:{n}" for n in names
    )
    ext.write_text(
        f"subjectAltName={sans}\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n"
    )
    run = ["openssl"]
    subprocess.run(
        [
            *run,
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=Campus test CA",
            "-keyout",
            str(ca_key),
            "-out",
            str(ca_cert),
        ],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [
            *run,
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-subj",
            f"/CN={names[0]}",
            "-keyout",
            str(key),
            "-out",
            str(csr),
        ],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [
            *run,
            "x509",
            "-req",
            "-in",
            str(csr),
            "-CA",
            str(ca_cert),
            "-CAkey",
            str(ca_key),
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            str(ext),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key, ca_cert


@dataclass
class CampusServer:
    port: int
    log: Path
    process: subprocess.Popen[bytes]

    @property
    def upstream(self) -> str:
        return f"127.0.0.1:{self.port}"

    def log_lines(self) -> list[str]:
        return self.log.read_text(errors="replace").splitlines()


def start_campus(
    workdir: Path, *, base_url: str, extra_env: Mapping[str, str] | None = None
) -> CampusServer:
    """Migrate a fresh SQLite file and start ``campus serve`` on a free port (production
    settings, nginx's address as the trusted proxy, JSON logs to a file)."""
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = {
        **os.environ,
        "CAMPUS_ENV": "production",
        "CAMPUS_SECRET_KEY": secrets.token_urlsafe(48),
        "CAMPUS_CERTIFICATE_SIGNING_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
        "CAMPUS_DATABASE_URL": f"sqlite+aiosqlite:///{workdir / 'campus.db'}",
        "CAMPUS_TRUSTED_PROXIES": "127.0.0.1",
        "CAMPUS_BASE_URL": base_url,
        "CAMPUS_LOG_FORMAT": "json",
        "CAMPUS_EMAIL_BACKEND": "console",
        **(extra_env or {}),
    }
    env.pop("CAMPUS_REDIS_URL", None)
    subprocess.run(
        [str(CAMPUS_BIN), "migrate", "upgrade", "head"], env=env, check=True, capture_output=True
    )
    log = workdir / "campus.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(CAMPUS_BIN), "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for_port(port, process=process, timeout=180)
    except Exception as exc:
        stop(process)
        raise RuntimeError(f"campus serve did not start ({exc}):\n{log.read_text()}") from exc
    return CampusServer(port=port, log=log, process=process)


@dataclass
class Nginx:
    prefix: Path
    http_port: int
    https_port: int
    env: dict[str, str]
    process: subprocess.Popen[bytes] | None = None
    watcher: subprocess.Popen[bytes] | None = None
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def conf(self) -> Path:
        return self.prefix / "nginx.conf"

    def command(self, *args: str) -> list[str]:
        return ["nginx", "-p", f"{self.prefix}/", "-c", str(self.conf), *args]

    def test_config(self) -> subprocess.CompletedProcess[str]:
        return subprocess.run(self.command("-t"), capture_output=True, text=True, check=False)

    def start(self) -> None:
        self.process = subprocess.Popen(
            self.command("-g", "daemon off;"), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        wait_for_port(self.http_port, process=self.process)

    def tls_script(self, action: str, **env: str) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            ["sh", str(NGINX_DIR / "campus-tls.sh"), action],
            env={**self.env, **self.tls_env(), **env},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

    def tls_env(self) -> dict[str, str]:
        return {
            "NGINX_CAMPUS_DIR": str(self.prefix / "campus"),
            "NGINX_RELOAD_COMMAND": " ".join(self.command("-s", "reload")),
        }

    def error_log(self) -> str:
        path = self.prefix / "logs" / "error.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def close(self) -> None:
        for process in (self.watcher, self.process):
            if process is not None:
                stop(process)


def render_nginx(
    prefix: Path,
    *,
    upstream: str,
    cert: Path,
    key: Path,
    chain: Path,
    acme_root: Path,
    overrides: Mapping[str, str] | None = None,
) -> Nginx:
    """Render deploy/nginx into ``prefix`` with render.sh (envsubst, as the image does) and
    the test main configuration (the image's layout, paths under the prefix)."""
    for sub in ("logs", "temp"):
        (prefix / sub).mkdir(parents=True, exist_ok=True)
    acme_root.mkdir(parents=True, exist_ok=True)
    http_port, https_port = free_port(), free_port()
    env = {
        "PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/bin"),
        "CAMPUS_DOMAIN": "campus.test",
        "CAMPUS_UPSTREAM": upstream,
        "CAMPUS_HTTP_PORT": str(http_port),
        "CAMPUS_HTTPS_PORT": str(https_port),
        "CAMPUS_BASE_URL": f"https://campus.test:{https_port}",
        "CAMPUS_TLS_CERT": str(cert),
        "CAMPUS_TLS_KEY": str(key),
        "CAMPUS_TLS_CHAIN": str(chain),
        "CAMPUS_ACME_ROOT": str(acme_root),
        "CAMPUS_STATIC_ROOT": str(REPO / "src" / "campus"),
        "CAMPUS_MAX_BODY_BYTES": "1048576",
        "CAMPUS_UPLOAD_MAX_BODY_BYTES": "21037056",
        "CAMPUS_NGINX_RESOLVER": "127.0.0.1",
        "CAMPUS_NGINX_AUTH_RATE": "10r/m",
        "CAMPUS_NGINX_AUTH_BURST": "5",
        "CAMPUS_NGINX_API_RATE": "20r/s",
        "CAMPUS_NGINX_API_BURST": "50",
        "CAMPUS_NGINX_CONN_PER_IP": "50",
        **(overrides or {}),
    }
    subprocess.run(
        ["sh", str(NGINX_DIR / "render.sh"), str(prefix)], env=env, check=True, capture_output=True
    )
    shutil.copy(NGINX_DIR / "test" / "nginx.conf", prefix / "nginx.conf")
    return Nginx(prefix=prefix, http_port=http_port, https_port=https_port, env=env)


def https_client(nginx: Nginx, ca: Path) -> httpx.Client:
    return httpx.Client(
        base_url=f"https://127.0.0.1:{nginx.https_port}",
        verify=ssl.create_default_context(cafile=str(ca)),
        timeout=10,
        follow_redirects=False,
    )


def iter_json_logs(lines: list[str]) -> Iterator[dict[str, object]]:
    import json

    for line in lines:
        line = line.strip()
        if line.startswith("{"):
            try:
                yield json.loads(line)
            except ValueError:
                continue
