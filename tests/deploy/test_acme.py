"""The real ACME flow: Debian's certbot (webroot) against pebble, Let's Encrypt's test CA,
with nginx serving the challenges and then the certificate. pebble-challtestsrv answers DNS
for the local name ``campus.test`` with 127.0.0.1.

Issue: nginx starts with HTTP only (no certificate yet); ``certbot certonly --webroot``
proves the name through nginx's /.well-known/acme-challenge/; the deploy hook
(deploy/certbot/deploy-hook.sh) touches the marker; ``campus-tls watch`` enables HTTPS and
reloads nginx, which serves the new certificate. Renew: ``certbot renew --force-renewal``
(the stored webroot configuration), the hook again, and nginx serves the new one."""

from __future__ import annotations

import json
import os
import socket
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.deploy.conftest import require
from tests.deploy.harness import (
    DEPLOY,
    CampusServer,
    Nginx,
    free_port,
    make_certificate,
    render_nginx,
    stop,
    wait_for_port,
    wait_until,
)

DOMAIN = "campus.test"


class Acme:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = free_port()
        self.management_port = free_port()
        self.dns_port = free_port()
        self.processes: list[subprocess.Popen[bytes]] = []
        _cert, _key, ca = make_certificate(root / "pebble-tls", names=("127.0.0.1", "localhost"))
        self.api_ca = ca

    def start(self, http_port: int) -> None:
        config = self.root / "pebble.json"
        config.write_text(
            json.dumps(
                {
                    "pebble": {
                        "listenAddress": f"127.0.0.1:{self.port}",
                        "managementListenAddress": f"127.0.0.1:{self.management_port}",
                        "certificate": str(self.root / "pebble-tls" / "cert.pem"),
                        "privateKey": str(self.root / "pebble-tls" / "key.pem"),
                        "httpPort": http_port,
                        "tlsPort": free_port(),
                        "ocspResponderURL": "",
                        "externalAccountBindingRequired": False,
                    }
                }
            )
        )
        dns = subprocess.Popen(
            [
                "pebble-challtestsrv",
                "-dns01",
                f"127.0.0.1:{self.dns_port}",
                "-defaultIPv4",
                "127.0.0.1",
                "-defaultIPv6",
                "",
                "-http01",
                "",
                "-https01",
                "",
                "-tlsalpn01",
                "",
                "-management",
                f"127.0.0.1:{free_port()}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.processes.append(dns)
        pebble = subprocess.Popen(
            ["pebble", "-config", str(config), "-dnsserver", f"127.0.0.1:{self.dns_port}"],
            env={**os.environ, "PEBBLE_VA_NOSLEEP": "1", "PEBBLE_WFE_NONCEREJECT": "0"},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.processes.append(pebble)
        wait_for_port(self.port, process=pebble)
        wait_for_port(self.management_port, process=pebble)

    @property
    def directory(self) -> str:
        return f"https://127.0.0.1:{self.port}/dir"

    def issuing_roots(self) -> str:
        """pebble's root (made fresh at each start), from its management interface."""
        response = httpx.get(
            f"https://127.0.0.1:{self.management_port}/roots/0",
            verify=ssl.create_default_context(cafile=str(self.api_ca)),
        )
        response.raise_for_status()
        return response.text

    def close(self) -> None:
        for process in reversed(self.processes):
            stop(process)


def certbot(acme: Acme, workdir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            "certbot",
            *args,
            "--config-dir",
            str(workdir / "letsencrypt"),
            "--work-dir",
            str(workdir / "work"),
            "--logs-dir",
            str(workdir / "logs"),
            "--non-interactive",
        ],
        env={
            **os.environ,
            "REQUESTS_CA_BUNDLE": str(acme.api_ca),
            "CAMPUS_RENEWAL_MARKER": str(workdir / "letsencrypt" / ".campus-renewed"),
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def served_certificate(nginx: Nginx, roots_pem: Path) -> dict[str, object]:
    """The certificate nginx serves for campus.test, verified against pebble's root."""
    context = ssl.create_default_context(cafile=str(roots_pem))
    with (
        socket.create_connection(("127.0.0.1", nginx.https_port), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname=DOMAIN) as sock,
    ):
        return sock.getpeercert()


@pytest.fixture(scope="module")
def acme_setup(
    campus_server: CampusServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Acme, Nginx, Path]]:
    for binary, package in (
        ("nginx", "nginx"),
        ("pebble", "pebble"),
        ("pebble-challtestsrv", "pebble"),
        ("certbot", "certbot"),
        ("envsubst", "gettext-base"),
    ):
        require(binary, package)
    root = tmp_path_factory.mktemp("acme")
    workdir = root / "certbot"
    live = workdir / "letsencrypt" / "live" / DOMAIN
    nginx = render_nginx(
        root / "nginx",
        upstream=campus_server.upstream,
        cert=live / "fullchain.pem",
        key=live / "privkey.pem",
        chain=live / "chain.pem",
        acme_root=root / "webroot",
    )
    acme = Acme(root)
    try:
        acme.start(nginx.http_port)
        assert nginx.tls_script("select").wait(timeout=10) == 0
        nginx.start()
        nginx.watcher = nginx.tls_script(
            "watch",
            CAMPUS_RENEWAL_MARKER=str(workdir / "letsencrypt" / ".campus-renewed"),
            CAMPUS_RENEWAL_CHECK_SECONDS="1",
        )
        yield acme, nginx, workdir
    finally:
        nginx.close()
        acme.close()


def test_issue_serve_and_renew_with_certbot_and_pebble(
    acme_setup: tuple[Acme, Nginx, Path],
) -> None:
    acme, nginx, workdir = acme_setup
    # No certificate yet: HTTPS is not served, port 80 is.
    assert not (nginx.prefix / "campus" / "enabled" / "https.conf").exists()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", nginx.https_port), timeout=2).close()

    hook = str(DEPLOY / "certbot" / "deploy-hook.sh")
    issued = certbot(
        acme,
        workdir,
        "certonly",
        "--webroot",
        "-w",
        nginx.env["CAMPUS_ACME_ROOT"],
        "-d",
        DOMAIN,
        "--server",
        acme.directory,
        "--agree-tos",
        "--email",
        "ops@campus.test",
        "--no-eff-email",
        "--deploy-hook",
        hook,
    )
    assert issued.returncode == 0, issued.stdout + issued.stderr
    roots = workdir / "pebble-roots.pem"
    roots.write_text(acme.issuing_roots())

    # The hook's marker makes campus-tls enable HTTPS and reload nginx.
    wait_for_port(nginx.https_port, timeout=15)
    first = served_certificate(nginx, roots)
    assert ("DNS", DOMAIN) in first["subjectAltName"]  # type: ignore[operator]
    with httpx.Client(verify=ssl.create_default_context(cafile=str(roots))) as client:
        response = client.get(
            f"https://127.0.0.1:{nginx.https_port}/",
            headers={"Host": DOMAIN},
            extensions={"sni_hostname": DOMAIN},
        )
    assert response.status_code == 200
    assert response.headers.get("x-request-id")  # a Campus page over pebble's certificate

    renewed = certbot(acme, workdir, "renew", "--force-renewal", "--no-random-sleep-on-renew")
    assert renewed.returncode == 0, renewed.stdout + renewed.stderr
    assert "Congratulations, all renewals succeeded" in renewed.stdout + renewed.stderr

    def serves_the_new_certificate() -> bool:
        return served_certificate(nginx, roots)["serialNumber"] != first["serialNumber"]

    wait_until(serves_the_new_certificate, timeout=15, what="nginx serving the renewed certificate")
    assert "reload failed" not in nginx.error_log()
