"""Stream tokens: expiry, scope, signature, alg=none, key rotation."""

import base64
import json
from datetime import timedelta

import jwt
import pytest

from errors import TokenError, TokenScopeError
from jobs.clock import FrozenClock
from notify.tokens import AUDIENCE, ISSUER, StreamTokens, key_id

KEY = "k" * 40
OLD_KEY = "o" * 40
JOB = "3f2c1d4e-5b6a-4c7d-8e9f-0a1b2c3d4e5f"
OTHER = "00000000-0000-4000-8000-000000000000"


def test_round_trip_names_subject_and_jobs():
    tokens = StreamTokens(KEY)
    token, _expires = tokens.issue("alice", [JOB])
    grant = tokens.verify(token)
    assert grant.subject == "alice" and grant.job_ids == (JOB,)
    grant.require(JOB)
    assert jwt.get_unverified_header(token)["kid"] == key_id(KEY)


def test_token_for_another_job_is_a_scope_error():
    tokens = StreamTokens(KEY)
    grant = tokens.verify(tokens.issue("alice", [JOB])[0])
    with pytest.raises(TokenScopeError):
        grant.require(OTHER)


def test_expired_token_is_refused():
    clock = FrozenClock()
    old = StreamTokens(KEY, ttl_seconds=60, clock=clock)
    clock.advance(-3600)
    token, _ = old.issue("alice", [JOB])
    with pytest.raises(TokenError, match="expired"):
        StreamTokens(KEY).verify(token)


def test_missing_and_garbage_tokens_are_refused():
    tokens = StreamTokens(KEY)
    for bad in (None, "", "not-a-jwt", "a.b.c", "x" * 5000):
        with pytest.raises(TokenError):
            tokens.verify(bad)


def test_tampered_payload_is_refused():
    tokens = StreamTokens(KEY)
    header, payload, signature = tokens.issue("alice", [JOB])[0].split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["jobs"] = [OTHER]
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    with pytest.raises(TokenError):
        tokens.verify(f"{header}.{forged}.{signature}")


def test_alg_none_is_refused():
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": "alice", "jobs": [JOB], "iat": 1, "exp": 4_000_000_000}
    unsigned = jwt.encode(claims, key=None, algorithm="none", headers={"kid": key_id(KEY)})
    with pytest.raises(TokenError):
        StreamTokens(KEY).verify(unsigned)


def test_token_signed_with_another_key_is_refused():
    foreign = StreamTokens("f" * 40).issue("alice", [JOB])[0]
    with pytest.raises(TokenError):
        StreamTokens(KEY).verify(foreign)


def test_wrong_audience_is_refused():
    claims = {"iss": ISSUER, "aud": "someone-else", "sub": "a", "jobs": [JOB], "iat": 1, "exp": 4_000_000_000}
    token = jwt.encode(claims, KEY, algorithm="HS256", headers={"kid": key_id(KEY)})
    with pytest.raises(TokenError):
        StreamTokens(KEY).verify(token)


def test_previous_key_accepted_during_overlap_then_refused():
    clock = FrozenClock()
    before_rotation = StreamTokens(OLD_KEY, clock=clock).issue("alice", [JOB])[0]
    rotated = StreamTokens(
        KEY, previous_key=OLD_KEY, previous_key_until=clock.now() + timedelta(minutes=10), clock=clock
    )
    assert rotated.verify(before_rotation).subject == "alice"
    # New tokens use the new key.
    assert jwt.get_unverified_header(rotated.issue("alice", [JOB])[0])["kid"] == key_id(KEY)
    clock.advance(11 * 60)
    with pytest.raises(TokenError, match="retired"):
        rotated.verify(before_rotation)
