"""RFC 9457 problem details: the one shape of every error response."""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

PROBLEM_MEDIA_TYPE = "application/problem+json"


class FieldError(BaseModel):
    loc: list[str | int] = Field(description="Where the problem is: body, query, path or header, then the field path.")
    msg: str
    type: str


class Problem(BaseModel):
    model_config = ConfigDict(extra="allow", json_schema_extra={"additionalProperties": True})

    type: str = Field(description="A URI naming the problem type: urn:stint:problem:<code>.")
    title: str
    status: int
    detail: str
    instance: str = Field(description="The request path that produced the problem.")
    code: str = Field(description="Stable machine-readable code, e.g. assignment.invalid_transition.")
    errors: list[FieldError] | None = Field(default=None, description="Each validation problem, for 400 and 422.")


_DESCRIPTIONS = {
    400: "Malformed request (unparseable JSON, bad cursor).",
    401: "No credentials, or credentials that are not valid.",
    403: "The credential may not do this (missing scope).",
    404: "Not found, or not visible to the caller.",
    409: "Conflict with the resource's current state.",
    412: "If-Match does not match the current version.",
    413: "Request body too large (or a batch of more than 1,000 items).",
    415: "Request body is not of the media type this operation takes.",
    422: "Well-formed but invalid input.",
    429: "Too many requests from this caller; see Retry-After.",
    503: "The database is unreachable; retry.",
}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entries for the given error statuses, all problem+json."""
    return {
        status: {"description": _DESCRIPTIONS[status], "model": Problem}
        for status in sorted({401, 503, *statuses})
    }


def problem_response(
    status: int, code: str, title: str, detail: str, instance: str, headers: dict[str, str] | None = None, **extra: Any
) -> JSONResponse:
    body = problem_body(status, code, title, detail, instance, **extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers)


def problem_body(status: int, code: str, title: str, detail: str, instance: str, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": f"urn:stint:problem:{code}",
        "title": title,
        "status": status,
        "detail": detail,
        "instance": instance,
        "code": code,
    }
    body.update({key: value for key, value in extra.items() if value is not None})
    return body
