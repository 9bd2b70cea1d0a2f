"""Request dependencies: who is calling, the service context, If-Match and pagination."""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from typing import Annotated, Any
from uuid import UUID

from fastapi import Depends, Header, Query, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from app.api.errors import ApiProblem, Unauthenticated
from app.domain.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page, PageRequest
from app.domain.ports import Clock, IdGenerator
from app.repositories.sql.database import Database
from app.services.context import Context
from app.services.tenants import authenticate_key


@dataclass(frozen=True)
class Runtime:
    """What the app shares across requests: storage, time and ids."""

    database: Database
    clock: Clock
    ids: IdGenerator


_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="ApiKey",
    description="An integration API key (`stint_…`) as a bearer token, bound to one tenant with scopes.",
)


async def get_context(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Context:
    runtime: Runtime = request.app.state.runtime
    if credentials is None:
        raise Unauthenticated("Send an API key as 'Authorization: Bearer stint_…'.")
    actor = await authenticate_key(runtime.database, credentials.credentials)
    if actor is None:
        raise Unauthenticated("The API key is not valid or has been revoked.")
    return Context(actor=actor, clock=runtime.clock, ids=runtime.ids, uow_factory=runtime.database.uow)


Ctx = Annotated[Context, Depends(get_context)]

_ETAG = re.compile(r'^\s*(?:W/)?"(\d{1,18})"\s*$')


def expected_version(
    if_match: Annotated[
        str | None,
        Header(description='Make the request conditional on the ETag from a previous read, e.g. `"3"`.', max_length=100),
    ] = None,
) -> int | None:
    """`If-Match: "3"` -> 3; `*` or absent -> None. A tag that is not a version can never match."""
    if if_match is None or if_match.strip() == "*":
        return None
    match = _ETAG.match(if_match)
    return int(match.group(1)) if match else -1


IfMatch = Annotated[int | None, Depends(expected_version)]


def set_etag(response: Response, version: int) -> None:
    response.headers["ETag"] = f'"{version}"'


def _encode_cursor(after: UUID) -> str:
    return base64.urlsafe_b64encode(after.bytes).decode().rstrip("=")


def _decode_cursor(cursor: str) -> UUID:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        return UUID(bytes=raw)
    except (ValueError, binascii.Error) as exc:
        raise ApiProblem(
            400, "invalid_cursor", "The cursor is not one this API issued; start again without it.",
            errors=[{"loc": ["query", "cursor"], "msg": "Invalid cursor.", "type": "invalid_cursor"}],
        ) from exc


def page_request(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Items per page.")] = DEFAULT_LIMIT,
    cursor: Annotated[str | None, Query(max_length=64, description="`next_cursor` from the previous page.")] = None,
) -> PageRequest:
    return PageRequest(limit=limit, after=None if cursor is None else _decode_cursor(cursor))


Paging = Annotated[PageRequest, Depends(page_request)]


def page_body(request: Request, response: Response, page: Page[Any], items: list[Any]) -> dict[str, Any]:
    """The list envelope, and a `Link: <…>; rel="next"` header when another page exists."""
    next_cursor = None if page.next_after is None else _encode_cursor(page.next_after)
    if next_cursor is not None:
        response.headers["Link"] = f'<{request.url.include_query_params(cursor=next_cursor)}>; rel="next"'
    return {"items": items, "next_cursor": next_cursor}
