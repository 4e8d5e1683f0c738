"""The stream cookie: how a browser's `EventSource` proves it may watch, with no secret in a URL.

URLs are logged by proxies, platform telemetry and browser history, so the token
endpoints also hand the stream token over as an HttpOnly cookie. Its `Path` is
the one stream URL it opens (a `/watch` stream has a path of its own), so two
streams of one tab never overwrite each other's cookie and no other request
carries it. The `access_token` query parameter stays for clients that cannot
use cookies (blocked third-party cookies, non-browser clients).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from settings import get_settings, running_in_azure

COOKIE_NAME = "jobevents_stream"
QUERY_PARAMETER = "access_token"
_LOOPBACK = {"localhost", "127.0.0.1", "::1", "[::1]"}


def stream_credential(request: Request) -> str | None:
    """The stream token: the query parameter when a client chose it, else the cookie."""
    return request.query_params.get(QUERY_PARAMETER) or request.cookies.get(COOKIE_NAME)


def _plain_localhost(request: Request) -> bool:
    """Plain http on this machine, where a Secure cookie would not be kept. Behind a proxy
    the forwarded scheme and host decide; in Azure never."""
    if running_in_azure():
        return False
    scheme = request.headers.get("x-forwarded-proto") or request.url.scheme
    host = request.headers.get("x-forwarded-host") or request.headers.get("host") or ""
    hostname = host.rsplit(":", 1)[0] if not host.startswith("[") else host.split("]")[0] + "]"
    return scheme == "http" and hostname.lower() in _LOOPBACK


def set_stream_cookie(response: Response, request: Request, token: str, path: str) -> None:
    """Scope the token to one stream URL for the token's lifetime."""
    secure = not _plain_localhost(request)
    # An allowed cross-origin app (another site) only gets the cookie back with
    # SameSite=None; Partitioned keeps it working where third-party cookies are blocked.
    cross_site = secure and request.headers.get("origin") in get_settings().cors_origins
    response.set_cookie(
        COOKIE_NAME,
        token,
        max_age=get_settings().token_ttl_seconds,
        path=path,
        secure=secure,
        httponly=True,
        samesite="none" if cross_site else "strict",
    )
    if cross_site:
        # Python < 3.14's http.cookies cannot write the Partitioned attribute (CHIPS).
        name, value = response.raw_headers[-1]
        assert name == b"set-cookie"
        response.raw_headers[-1] = (name, value + b"; Partitioned")
