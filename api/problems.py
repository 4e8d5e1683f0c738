"""RFC 9457 problem details: the only error shape a client ever sees."""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from azurefunctions.extensions.http.fastapi import JSONResponse
from pydantic import BaseModel, ConfigDict

PROBLEM_JSON = "application/problem+json"


class Problem(BaseModel):
    """The body of every error answer."""

    model_config = ConfigDict(extra="allow")

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    errors: list[dict[str, Any]] | None = None


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        detail: str,
        *,
        headers: Mapping[str, str] | None = None,
        errors: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = dict(headers or {})
        self.errors = errors


def problem_response(
    status: int,
    detail: str,
    *,
    headers: Mapping[str, str] | None = None,
    errors: list[dict[str, Any]] | None = None,
) -> JSONResponse:
    body = Problem(title=HTTPStatus(status).phrase, status=status, detail=detail, errors=errors)
    return JSONResponse(
        body.model_dump(exclude_none=True),
        status_code=status,
        headers=dict(headers or {}),
        media_type=PROBLEM_JSON,
    )


def from_error(error: ApiError) -> JSONResponse:
    return problem_response(error.status, error.detail, headers=error.headers, errors=error.errors)
