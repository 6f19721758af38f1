"""xai_client against servers with TLS, mutual TLS and tokens."""

import time

import pytest

from xai_client import UnauthenticatedError, UnavailableError, XaiClient
from conftest import RunningServer

TOKEN = "python-client-token-0123456789"


def _read(path):
    with open(path, "rb") as f:
        return f.read()


@pytest.fixture(scope="module")
def secure_server(pki, tmp_path_factory):
    """TLS with client certificates from PKI a, and a token file."""
    tokens = tmp_path_factory.mktemp("tokens") / "tokens"
    tokens.write_text(f"{TOKEN} explain python-tests\n")
    a = pki["a"]
    client = dict(root_certificates=_read(a["ca.pem"]), certificate_chain=_read(a["client.pem"]),
                  private_key=_read(a["client.key"]), token=TOKEN)
    running = RunningServer("--tls-cert", a["server.pem"], "--tls-key", a["server.key"],
                            "--tls-client-ca", a["ca.pem"], "--auth-tokens", str(tokens),
                            client=client, host="localhost")
    yield running, client
    running.stop()


def test_tls_with_a_client_certificate_and_a_token(secure_server, samples):
    running, client = secure_server
    with XaiClient(running.address, timeout=10, **client) as c:
        assert c.classify("shapes", f"{samples}/star_3.png", top_k=1).classes[0].label == "star"
        assert c.health() == "SERVING"
    assert "caller=python-tests rpc=Classify" in running.log()
    assert TOKEN not in running.log()


def test_without_a_token_unauthenticated_and_health_stays_open(secure_server):
    running, client = secure_server
    no_token = {k: v for k, v in client.items() if k != "token"}
    with XaiClient(running.address, timeout=10, retries=0, **no_token) as c:
        assert c.health() == "SERVING"
        with pytest.raises(UnauthenticatedError, match="needs a token"):
            c.list_models()
    with XaiClient(running.address, timeout=10, retries=0, **dict(client, token="x" * 20)) as c:
        with pytest.raises(UnauthenticatedError, match="not valid"):
            c.list_models()


def test_refused_without_tls_a_trusted_ca_or_a_client_certificate(secure_server, pki):
    running, client = secure_server
    attempts = [
        dict(token=TOKEN),                                               # plaintext
        dict(client, root_certificates=_read(pki["b"]["ca.pem"])),      # another CA
        {k: v for k, v in client.items()                                 # no client certificate
         if k not in ("certificate_chain", "private_key")},
        dict(client, certificate_chain=_read(pki["b"]["client.pem"]),   # another CA's client
             private_key=_read(pki["b"]["client.key"])),
    ]
    for kwargs in attempts:
        with XaiClient(running.address, timeout=3, retries=0, **kwargs) as c:
            with pytest.raises(UnavailableError):
                c.list_models()


def test_reload_seconds_picks_up_a_changed_token_file(tmp_path):
    tokens = tmp_path / "tokens"
    old, new = "old-token-for-reload-0123456789", "new-token-for-reload-0123456789"
    tokens.write_text(f"{old} explain\n")
    running = RunningServer("--auth-tokens", str(tokens), "--reload-seconds", "1",
                            client=dict(token=old))
    try:
        tokens.write_text(f"{new} admin rotated\n")
        with XaiClient(running.address, timeout=5, retries=0, token=new) as c:
            deadline = time.monotonic() + 10
            while True:
                try:
                    c.list_models()
                    break
                except UnauthenticatedError:
                    assert time.monotonic() < deadline, running.log()
                    time.sleep(0.2)
        with XaiClient(running.address, timeout=5, retries=0, token=old) as c:
            with pytest.raises(UnauthenticatedError):
                c.list_models()
        # Re-reads that find nothing new log nothing.
        time.sleep(2.5)
        assert running.log().count("token file re-read") == 1, running.log()
    finally:
        running.stop()


def test_bad_tls_arguments_are_refused_before_connecting():
    with pytest.raises(ValueError, match="go together"):
        XaiClient("localhost:1", certificate_chain=b"x")
    with pytest.raises(ValueError, match="token"):
        XaiClient("localhost:1", token="a\nb")
