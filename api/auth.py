"""Who is calling: the principal that owns the jobs it starts.

- `none`: everyone is `anonymous` (local development only; settings refuse it in Azure);
- `easyauth`: App Service Authentication has validated the caller and put its id
  in `X-MS-CLIENT-PRINCIPAL-ID` (the platform strips that header from clients);
- `bearer`: `Authorization: Bearer <JWT>` checked against the issuer's JWKS.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from functools import cached_property

import jwt
from starlette.requests import Request

from api.problems import ApiError
from settings import AuthMode, Settings

ANONYMOUS = "anonymous"
_CHALLENGE = 'Bearer realm="job-events"'


@dataclass(frozen=True)
class Principal:
    id: str


def unauthorized(detail: str, error: str = "invalid_token") -> ApiError:
    return ApiError(401, detail, headers={"WWW-Authenticate": f'{_CHALLENGE}, error="{error}"'})


class Authenticator:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    @cached_property
    def _jwks(self) -> jwt.PyJWKClient:
        assert self._settings.bearer_jwks_url
        return jwt.PyJWKClient(self._settings.bearer_jwks_url, cache_keys=True, lifespan=3600)

    async def principal(self, request: Request) -> Principal:
        mode = self._settings.auth_mode
        if mode is AuthMode.NONE:
            return Principal(ANONYMOUS)
        if mode is AuthMode.EASYAUTH:
            principal_id = request.headers.get("x-ms-client-principal-id", "").strip()
            if not principal_id or len(principal_id) > 256:
                raise unauthorized("sign-in required", "invalid_request")
            return Principal(principal_id)
        return await self._bearer(request)

    async def _bearer(self, request: Request) -> Principal:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise unauthorized("an Authorization: Bearer token is required", "invalid_request")
        try:
            # The JWKS fetch is blocking I/O (cached after the first call).
            key = await asyncio.to_thread(self._jwks.get_signing_key_from_jwt, token.strip())
            claims = jwt.decode(
                token.strip(),
                key.key,
                algorithms=["RS256", "ES256"],
                audience=self._settings.bearer_audience,
                issuer=self._settings.bearer_issuer,
                options={"require": ["exp", "sub"]},
            )
        except jwt.PyJWKClientConnectionError:
            raise ApiError(503, "the identity provider's keys are unreachable", headers={"Retry-After": "5"}) from None
        except jwt.PyJWTError:
            raise unauthorized("the bearer token is invalid or expired") from None
        return Principal(str(claims.get("oid") or claims["sub"]))
