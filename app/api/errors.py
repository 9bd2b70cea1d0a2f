"""Every error becomes problem+json here, in one place: domain errors by class, framework errors by kind."""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.api.problems import PROBLEM_MEDIA_TYPE, problem_body, problem_response
from app.domain import errors as domain
from app.domain.batch import TooManyItems
from app.domain.pagination import InvalidCursor

log = logging.getLogger("stint.api")

class UnsupportedMediaType(domain.DomainError):
    """A body of a media type the operation does not take, found past the request guard (415)."""

    code = "unsupported_media_type"
    title = "Unsupported Media Type"


class BadQuery(domain.DomainError):
    """A query parameter the operation does not know or cannot take (400)."""

    code = "bad_query"
    title = "Bad query parameter"


_STATUS: list[tuple[type[domain.DomainError], int]] = [
    (domain.NotFound, 404),
    (domain.InvalidTransition, 409),
    (domain.PreconditionFailed, 412),
    (domain.Conflict, 409),
    (domain.PermissionDenied, 403),
    (domain.InvalidInput, 422),
    (domain.StorageUnavailable, 503),
    (InvalidCursor, 400),
    (TooManyItems, 413),
    (UnsupportedMediaType, 415),
    (BadQuery, 400),
]


class Unauthenticated(Exception):
    """401. `invalid_token`: credentials were sent but are bad (RFC 6750 error="invalid_token")."""

    def __init__(self, detail: str, *, invalid_token: bool = False) -> None:
        self.detail = detail
        self.invalid_token = invalid_token


class RateLimited(Exception):
    def __init__(self, headers: dict[str, str]) -> None:
        self.headers = headers


async def _rate_limited(request: Request, exc: RateLimited) -> JSONResponse:
    return problem_response(
        429, "rate_limited", "Too Many Requests",
        f"Too many requests from this caller; retry after {exc.headers.get('Retry-After', '1')} s.",
        request.url.path, headers=exc.headers,
    )


def _status_of(exc: domain.DomainError) -> int:
    for cls, status in _STATUS:
        if isinstance(exc, cls):
            return status
    return 422


class InvalidRequestPart(domain.InvalidInput):
    """Input the API itself refuses in a part of the request other than the body (`header`, `query`, `path`).

    Domain and service errors name fields only (`("starts_at",)`, `("scores", 2, "criterion")`): they know
    no HTTP. Rendering a request's problem puts them under `body`, and these under their own part."""

    def __init__(self, part: str, problems: list[domain.FieldProblem], *, code: str | None = None) -> None:
        super().__init__(problems, code=code)
        self.part = part


def invalid_in(
    part: str, loc: tuple[str | int, ...], msg: str, type_: str = "value_error", *, code: str | None = None,
) -> InvalidRequestPart:
    return InvalidRequestPart(part, [domain.FieldProblem(loc, msg, type_)], code=code)


def _extra(exc: domain.DomainError, where: tuple[str, ...]) -> dict[str, Any]:
    """The error's extra members; an InvalidInput's problems located under `where` (the part of the request)."""
    extra: dict[str, Any] = dict(exc.extra)
    if isinstance(exc, domain.InvalidInput):
        extra["errors"] = [{"loc": [*where, *p.loc], "msg": p.msg, "type": p.type} for p in exc.problems]
    return extra


def _request_part(exc: domain.DomainError) -> tuple[str, ...]:
    return (exc.part,) if isinstance(exc, InvalidRequestPart) else ("body",)


async def _domain_error(request: Request, exc: domain.DomainError) -> JSONResponse:
    status = _status_of(exc)
    headers = {"Retry-After": "1"} if status == 503 else None
    extra = _extra(exc, _request_part(exc))
    return problem_response(status, exc.code, exc.title, exc.detail, request.url.path, headers=headers, **extra)


def domain_problem(exc: domain.DomainError, instance: str) -> dict[str, Any]:
    """The problem details of a domain error, as a dict: for one item of a batch or a row of an import, whose
    fields are named within the item (no `body` prefix)."""
    return problem_body(_status_of(exc), exc.code, exc.title, exc.detail, instance, **_extra(exc, ()))


def _clean_loc(loc: tuple[Any, ...]) -> list[str | int]:
    return [part if isinstance(part, int) else str(part) for part in loc]


def validation_problem(raw: list[Any], instance: str) -> dict[str, Any]:
    """The 422 problem details of pydantic's errors (a request's, or one batch item's)."""
    errors = [{"loc": _clean_loc(error["loc"]), "msg": error["msg"], "type": error["type"]} for error in raw]
    first = errors[0] if errors else None
    detail = f"{'.'.join(str(p) for p in first['loc']) or 'item'}: {first['msg']}" if first else "Invalid input."
    if len(errors) > 1:
        detail += f" (and {len(errors) - 1} more)"
    return problem_body(422, "validation_failed", "Invalid input", detail, instance, errors=errors)


async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    raw = exc.errors()
    if any(error.get("type") == "json_invalid" for error in raw):
        return problem_response(400, "malformed_json", "Malformed JSON", "The request body is not valid JSON.", request.url.path)
    body = validation_problem(list(raw), request.url.path)
    return JSONResponse(body, status_code=422, media_type=PROBLEM_MEDIA_TYPE)


async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    codes = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large", 415: "unsupported_media_type"}
    phrase = HTTPStatus(exc.status_code).phrase
    detail = exc.detail if isinstance(exc.detail, str) and exc.detail != phrase else f"{phrase}: {request.method} {request.url.path}"
    return problem_response(
        exc.status_code, codes.get(exc.status_code, f"http_{exc.status_code}"), phrase, detail, request.url.path,
        headers=getattr(exc, "headers", None),
    )


async def _unauthenticated(request: Request, exc: Unauthenticated) -> JSONResponse:
    challenge = 'Bearer realm="stint"'
    if exc.invalid_token:
        description = exc.detail.replace('"', "'")
        challenge += f', error="invalid_token", error_description="{description}"'
    return problem_response(
        401, "unauthenticated", "Unauthenticated", exc.detail, request.url.path, headers={"WWW-Authenticate": challenge},
    )


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return problem_response(
        500, "internal_error", "Internal Server Error", "An unexpected error occurred; it has been logged.", request.url.path,
    )


def install(app: FastAPI) -> None:
    app.add_exception_handler(domain.DomainError, _domain_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _http_error)  # type: ignore[arg-type]
    app.add_exception_handler(Unauthenticated, _unauthenticated)  # type: ignore[arg-type]
    app.add_exception_handler(RateLimited, _rate_limited)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _unexpected)
