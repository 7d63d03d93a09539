"""wss:// with basic auth (security profile 2 shape): a self-signed certificate made by openssl."""

from __future__ import annotations

import base64
import shutil
import ssl
import subprocess
from pathlib import Path

import pytest

from tests.plugins.sim_cp import MiniCsms
from tests.sim_cp.conftest import MakeStation


@pytest.fixture
def tls_pair(tmp_path: Path) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl not installed")
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
         "-out", str(cert), "-days", "1", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True,
        capture_output=True,
    )  # fmt: skip
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(cert, key)
    client = ssl.create_default_context(cafile=str(cert))
    return server, client


async def test_wss_with_basic_auth(
    tls_pair: tuple[ssl.SSLContext, ssl.SSLContext], make_station: MakeStation
) -> None:
    server_ctx, client_ctx = tls_pair
    csms = MiniCsms(ssl=server_ctx)
    await csms.start()
    try:
        assert csms.url.startswith("wss://")
        st = await make_station(csms.url, ocpp_version="2.0.1", password="S3cret", ssl=client_ctx)
        assert st.online
        expected = "Basic " + base64.b64encode(b"CP-1:S3cret").decode()
        assert csms.auth_headers["CP-1"] == expected
    finally:
        await csms.stop()
