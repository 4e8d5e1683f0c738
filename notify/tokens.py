"""Short-lived stream tokens (JWT, HS256, via PyJWT).

`EventSource` cannot send headers, so a browser's stream is opened with the token
in an HttpOnly cookie (api/cookies.py), or, where cookies cannot work, in the
query string. The token names its subject, the job ids it may watch and, for a
`/watch` stream, the stream id its cookie is scoped to; it expires in minutes and
carries a key id (`kid`) so the signing key can be rotated: the previous key
stays valid until a configured moment, then is refused.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

import jwt

from errors import TokenError, TokenScopeError
from jobs.clock import Clock, SystemClock

ISSUER = "job-events"
AUDIENCE = "job-events/stream"
ALGORITHM = "HS256"


@dataclass(frozen=True)
class StreamGrant:
    subject: str
    job_ids: tuple[str, ...]
    expires_at: datetime
    stream_id: str | None = None

    def require(self, job_id: str) -> None:
        if job_id not in self.job_ids:
            raise TokenScopeError("the token does not cover this job")

    def require_stream(self, stream_id: str) -> None:
        if self.stream_id != stream_id:
            raise TokenScopeError("the token is for another stream")


def key_id(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:16]


class StreamTokens:
    def __init__(
        self,
        key: str,
        *,
        ttl_seconds: int = 300,
        previous_key: str | None = None,
        previous_key_until: datetime | None = None,
        clock: Clock | None = None,
    ) -> None:
        self._key = key
        self._kid = key_id(key)
        self._previous = (key_id(previous_key), previous_key, previous_key_until) if previous_key else None
        self._ttl = ttl_seconds
        self._clock = clock or SystemClock()

    @property
    def ttl_seconds(self) -> int:
        return self._ttl

    def issue(
        self, subject: str, job_ids: list[str] | tuple[str, ...], *, stream_id: str | None = None
    ) -> tuple[str, datetime]:
        now = self._clock.now()
        expires = now + timedelta(seconds=self._ttl)
        claims: dict[str, object] = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": subject,
            "jobs": list(job_ids),
            "iat": int(now.timestamp()),
            "exp": int(expires.timestamp()),
        }
        if stream_id is not None:
            claims["sid"] = stream_id
        token = jwt.encode(claims, self._key, algorithm=ALGORITHM, headers={"kid": self._kid})
        return token, expires.replace(microsecond=0)

    def verify(self, token: str | None) -> StreamGrant:
        if not token:
            raise TokenError("a stream token is required (the stream cookie, or access_token)")
        try:
            kid = jwt.get_unverified_header(token).get("kid")
        except jwt.PyJWTError:
            raise TokenError("the stream token is malformed") from None
        key = self._key_for(kid)
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[ALGORITHM],  # never "none", never an algorithm the token picks
                audience=AUDIENCE,
                issuer=ISSUER,
                options={"require": ["exp", "iat", "sub", "jobs"]},
            )
        except jwt.ExpiredSignatureError:
            raise TokenError("the stream token has expired; mint a new one") from None
        except jwt.PyJWTError:
            raise TokenError("the stream token is invalid") from None
        jobs = claims["jobs"]
        if not isinstance(jobs, list) or not jobs or not all(isinstance(j, str) for j in jobs):
            raise TokenError("the stream token is invalid")
        stream_id = claims.get("sid")
        return StreamGrant(
            subject=str(claims["sub"]),
            job_ids=tuple(jobs),
            expires_at=datetime.fromtimestamp(claims["exp"], tz=self._clock.now().tzinfo),
            stream_id=stream_id if isinstance(stream_id, str) else None,
        )

    def _key_for(self, kid: object) -> str:
        if kid == self._kid:
            return self._key
        if self._previous and kid == self._previous[0]:
            _, key, until = self._previous
            if until is None or self._clock.now() < until:
                return key
            raise TokenError("the stream token was signed with a retired key; mint a new one")
        raise TokenError("the stream token is invalid")
