"""With auth on, a job belongs to the principal that started it."""

import json
import threading
import time
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.support.api import assert_problem

ALICE = {"X-MS-CLIENT-PRINCIPAL-ID": "alice-oid"}
BOB = {"X-MS-CLIENT-PRINCIPAL-ID": "bob-oid"}


@pytest.fixture(scope="module")
def easyauth_host(azurite):
    from harness.processes import LocalHostProcess, isolated_settings

    host = LocalHostProcess(isolated_settings(azurite, AUTH_MODE="easyauth")).start()
    yield host
    host.close()


def test_another_principal_cannot_read_stream_or_mint_for_a_job(easyauth_host):
    base = easyauth_host.base_url
    job = httpx.post(f"{base}/api/jobs/Sleep/start", json={"seconds": 0.2}, headers=ALICE).json()
    assert httpx.get(f"{base}{job['statusUrl']}", headers=ALICE).status_code == 200
    assert_problem(httpx.get(f"{base}{job['statusUrl']}", headers=BOB), 404)
    assert_problem(httpx.post(f"{base}/api/jobs/Sleep/{job['jobId']}/token", headers=BOB), 404)
    assert_problem(
        httpx.post(f"{base}/api/watch", json={"jobs": [{"jobType": "Sleep", "jobId": job["jobId"]}]}, headers=BOB), 404
    )
    bobs = httpx.post(f"{base}/api/jobs/Sleep/start", json={"seconds": 0.2}, headers=BOB).json()
    assert_problem(httpx.get(f"{base}{job['eventsUrl']}", params={"access_token": bobs["token"]}), 403)
    assert httpx.post(f"{base}/api/jobs/Sleep/{job['jobId']}/token", headers=ALICE).status_code == 200


def test_no_principal_is_401(easyauth_host):
    base = easyauth_host.base_url
    response = httpx.post(f"{base}/api/jobs/Sleep/start", json={})
    assert_problem(response, 401)
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert_problem(httpx.get(f"{base}/api/jobs/Sleep/3f2c1d4e-5b6a-4c7d-8e9f-0a1b2c3d4e5f"), 401)


@pytest.fixture(scope="module")
def bearer(azurite, tmp_path_factory):
    from harness.processes import LocalHostProcess, isolated_settings

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    jwk.update({"kid": "test-key", "use": "sig", "alg": "RS256"})
    folder = tmp_path_factory.mktemp("jwks")
    (folder / "keys.json").write_text(json.dumps({"keys": [jwk]}))
    # The identity provider's key endpoint, served over HTTP like the real one.
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(SimpleHTTPRequestHandler, directory=str(folder)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    host = LocalHostProcess(
        isolated_settings(
            azurite,
            AUTH_MODE="bearer",
            AUTH_BEARER_ISSUER="https://login.example/tenant/v2.0",
            AUTH_BEARER_AUDIENCE="api://job-events",
            AUTH_BEARER_JWKS_URL=f"http://127.0.0.1:{server.server_address[1]}/keys.json",
        )
    ).start()

    def token(sub: str, **changes) -> str:
        claims = {
            "iss": "https://login.example/tenant/v2.0",
            "aud": "api://job-events",
            "sub": sub,
            "exp": int(time.time()) + 300,
            **changes,
        }
        return jwt.encode(claims, key, algorithm="RS256", headers={"kid": "test-key"})

    yield host, token
    host.close()
    server.shutdown()


def test_bearer_tokens_identify_the_owner(bearer):
    host, token = bearer
    base = host.base_url
    alice = {"Authorization": f"Bearer {token('alice')}"}
    job = httpx.post(f"{base}/api/jobs/Sleep/start", json={"seconds": 0.1}, headers=alice)
    assert job.status_code == 202
    status_url = job.json()["statusUrl"]
    assert httpx.get(f"{base}{status_url}", headers=alice).status_code == 200
    assert_problem(httpx.get(f"{base}{status_url}", headers={"Authorization": f"Bearer {token('bob')}"}), 404)


@pytest.mark.parametrize(
    "changes",
    [{"exp": 1}, {"aud": "api://someone-else"}, {"iss": "https://evil.example"}],
    ids=["expired", "audience", "issuer"],
)
def test_bad_bearer_tokens_are_401(bearer, changes):
    host, token = bearer
    headers = {"Authorization": f"Bearer {token('alice', **changes)}"}
    assert_problem(httpx.post(f"{host.base_url}/api/jobs/Sleep/start", json={}, headers=headers), 401)


def test_missing_or_forged_bearer_is_401(bearer):
    host, _ = bearer
    # An HMAC token "signed" with a guessed secret, against an RS256 JWKS (algorithm confusion).
    forged = jwt.encode(
        {"sub": "alice", "exp": int(time.time()) + 60}, "x" * 32, algorithm="HS256", headers={"kid": "test-key"}
    )
    for headers in ({}, {"Authorization": "Basic YWxpY2U6eA=="}, {"Authorization": f"Bearer {forged}"}):
        assert_problem(httpx.post(f"{host.base_url}/api/jobs/Sleep/start", json={}, headers=headers), 401)
