"""client → Apache httpd + mod_auth_openidc (docs/apache-gateway.conf) → introspection →
an echoing upstream: an OAuth resource server that knows nothing of this service."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.integration.gateway_proofs import GatewayProofs, StartGateway
from tests.integration.gateways import DOCS, gateway_process, program, render
from tests.integration.tls import loopback_certificate
from tests.live_server import SERVER_ENV, free_port

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

MODULES = Path("/usr/lib/apache2/modules")
FRAME = """ServerRoot {directory}
ServerName localhost
PidFile {directory}/httpd.pid
ErrorLog {directory}/error.log
LogLevel warn
{modules}
# The service behind TLS, as mod_auth_openidc requires: a proxy with a throwaway certificate
# that the module is told to trust (it checks the certificate).
OIDCCABundlePath {certificate}
Listen 127.0.0.1:{tls_port}
<VirtualHost 127.0.0.1:{tls_port}>
    SSLEngine on
    SSLCertificateFile {certificate}
    SSLCertificateKeyFile {key}
    ProxyPass "/" "http://127.0.0.1:{service_port}/"
</VirtualHost>
Include {directory}/site.conf
"""


@contextlib.contextmanager
def apache(directory: Path, service_port: int, backend_port: int) -> Iterator[str]:
    """Debian's httpd in the foreground on the documented site, addresses replaced."""
    binary = program(
        "apache2",
        fallback="/usr/sbin/apache2",
        install="apt-get install apache2 libapache2-mod-auth-openidc",
    )
    if not (MODULES / "mod_auth_openidc.so").exists():
        program("mod_auth_openidc.so", install="apt-get install libapache2-mod-auth-openidc")
    port, tls_port = free_port(), free_port()
    certificate, key = loopback_certificate(directory)
    site = render(
        DOCS / "apache-gateway.conf",
        {
            "Listen 8080": f"Listen 127.0.0.1:{port}",
            "<VirtualHost *:8080>": f"<VirtualHost 127.0.0.1:{port}>",
            "https://127.0.0.1:8443/oauth/introspect": (
                f"https://127.0.0.1:{tls_port}/oauth/introspect"
            ),
            "http://127.0.0.1:8000/api/v2/$1": f"http://127.0.0.1:{service_port}/api/v2/$1",
            "http://127.0.0.1:9000/": f"http://127.0.0.1:{backend_port}/",
        },
    )
    (directory / "site.conf").write_text(site)
    modules = "mpm_event authn_core authz_core authz_user headers proxy proxy_http ssl auth_openidc"
    loads = "\n".join(
        f"LoadModule {name}_module {MODULES}/mod_{name}.so" for name in modules.split()
    )
    frame = FRAME.format(
        directory=directory,
        modules=loads,
        certificate=certificate,
        key=key,
        tls_port=tls_port,
        service_port=service_port,
    )
    (directory / "httpd.conf").write_text(frame)
    env = {**os.environ, "APP_ID": SERVER_ENV["APP_ID"], "APP_KEY": SERVER_ENV["APP_KEY"]}
    command = [binary, "-f", str(directory / "httpd.conf"), "-DFOREGROUND"]
    with gateway_process(command, port, directory / "httpd.out", env) as url:
        yield url


class TestApacheGateway(GatewayProofs):
    def start(self, directory: Path, service_port: int, backend_port: int) -> StartGateway:
        return apache(directory, service_port, backend_port)

    def assert_refused(self, response: httpx.Response) -> None:
        """mod_auth_openidc's own refusal: 401 and an RFC 6750 Bearer challenge."""
        assert response.status_code == 401
        (challenge,) = response.headers.get_list("www-authenticate")
        assert challenge.startswith("Bearer")

    def assert_unavailable(self, response: httpx.Response) -> None:
        """An introspection that fails is no approval: mod_auth_openidc refuses the token."""
        assert response.status_code in (401, 500, 503), response.status_code
