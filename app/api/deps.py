"""Request dependencies: who is calling, the service context, If-Match and pagination."""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from typing import Annotated, Any
from uuid import UUID

from cachetools import TTLCache
from fastapi import Depends, Header, Query, Request, Response
from fastapi.security import HTTPBearer
from fastapi.security.utils import get_authorization_scheme_param

from app.api.errors import RateLimited, Unauthenticated, invalid_in
from app.api.ratelimit import Buckets
from app.api.tokens import InvalidToken, TokenVerifier, VerifiedToken
from app.domain.actors import Actor, ActorType, person_actor
from app.domain.actors import acting_for as acting_as
from app.domain.errors import PermissionDenied
from app.domain.keys import KEY_PREFIX
from app.domain.pagination import DEFAULT_LIMIT, MAX_LIMIT, InvalidCursor, Page, PageRequest
from app.domain.ports import (
    Clock,
    IdempotencyStore,
    IdGenerator,
    OperationsStatsSource,
    SignedInWork,
    StorageHealth,
    TenantDirectory,
    UnitOfWorkFactory,
)
from app.services.context import Context
from app.services.tenants import active_person, authenticate_key, person_for_subject


class KeyCache:
    """API-key lookups remembered for a few seconds per process, so most requests skip a round trip.

    A revoked key therefore stops working within `ttl` seconds in every process, not instantly.
    """

    SIZE = 10_000

    def __init__(self, ttl: float) -> None:
        self._entries: TTLCache[str, Actor | None] | None = TTLCache(self.SIZE, ttl) if ttl > 0 else None

    async def actor(self, directory: TenantDirectory, secret: str) -> Actor | None:
        if self._entries is not None:
            hit = self._entries.get(secret, _MISS)
            if hit is not _MISS:
                return hit  # type: ignore[return-value]
        actor = await authenticate_key(directory, secret)
        if self._entries is not None:
            self._entries[secret] = actor
        return actor


_MISS = object()


@dataclass(frozen=True)
class Runtime:
    """What the app shares across requests: the storage ports, time, ids, the token checker and the key cache.
    The composition root (app.main) builds the adapters behind each port."""

    uow: UnitOfWorkFactory
    directory: TenantDirectory
    idempotency: IdempotencyStore
    stats: OperationsStatsSource
    """Outbox backlog and sweeper lag, read by the metrics scrape."""
    health: StorageHealth
    """The schema revision and pool use, read by /readyz and the metrics scrape."""
    clock: Clock
    ids: IdGenerator
    tokens: TokenVerifier
    keys: KeyCache
    limits: Buckets | None
    """Per-caller rate limits; None when turned off."""
    signed_in: SignedInWork
    """A signed-in person's own work, read with the check that they are active."""


API_KEY = HTTPBearer(
    auto_error=False,
    scheme_name="ApiKey",
    description="An integration API key (`stint_…`) as a bearer token, bound to one tenant with scopes.",
)
PERSON_TOKEN = HTTPBearer(
    auto_error=False,
    scheme_name="PersonToken",
    bearerFormat="JWT",
    description="A signed-in person's token (RS256, ES256 or EdDSA JWT) from the tenant's identity provider.",
)


@dataclass(frozen=True)
class PersonToken:
    """A person's verified token whose person is not read yet: for a route that reads the person together
    with its own data (one round trip), then makes the Context with `person_context`."""

    verified: VerifiedToken


ActingFor = Annotated[
    UUID,
    Header(alias="Stint-Acting-For", description="With an API key holding `act_as`: act as this person, with their rights."),
]


async def get_caller(
    request: Request,
    response: Response,
    acting_for: ActingFor = None,  # type: ignore[assignment]  # optional, but never null
) -> Context | PersonToken:
    """As get_context, except that a person's token comes back verified but with the person not yet read."""
    runtime: Runtime = request.app.state.runtime
    secret = bearer(request)
    if acting_for is None and not secret.startswith(KEY_PREFIX):
        return PersonToken(await verify_token(runtime, secret))
    return await _context(runtime, response, secret, acting_for)


async def get_context(
    request: Request,
    response: Response,
    acting_for: ActingFor = None,  # type: ignore[assignment]  # optional, but never null
) -> Context:
    """Who is calling, with what rights: the Context every authenticated route starts from."""
    return await _context(request.app.state.runtime, response, bearer(request), acting_for)


def bearer(request: Request) -> str:
    """The credential of `Authorization: Bearer …`, read as HTTPBearer reads it; 401 without one.

    The two schemes are read here rather than as two HTTPBearer dependencies: FastAPI's solving of each
    dependency cost more than the request's own read (a fifth of GET /v1/assignments/{id}'s CPU for the three).
    They are still the contract: app.openapi documents SECURITY on every operation that depends on this module's
    get_context or get_caller."""
    authorization = request.headers.get("Authorization")
    scheme, credentials = get_authorization_scheme_param(authorization)
    if not (authorization and scheme and credentials) or scheme.lower() != "bearer":
        raise Unauthenticated("Send an API key or a person's token as 'Authorization: Bearer …'.")
    return credentials


async def _context(runtime: Runtime, response: Response, secret: str, acting_for: UUID | None) -> Context:
    actor = await authenticate(runtime, secret)
    await _take_limit(runtime, response, actor)
    if acting_for is not None:
        if actor.type is not ActorType.API_KEY:
            raise PermissionDenied("Only integration keys may act for a person.", code="forbidden.acting_for")
        person = await active_person(runtime.uow(actor.tenant_id, readonly=True), acting_for)
        if person is None:
            raise invalid_in(
                "header", ("Stint-Acting-For",), f"No active person with id {acting_for}.", "unknown_person",
                code="acting_for.unknown_person",
            )
        actor = acting_as(actor, person.id, person.is_admin)
    return Context(actor=actor, clock=runtime.clock, ids=runtime.ids, uow_factory=runtime.uow)


async def _take_limit(runtime: Runtime, response: Response, actor: Actor) -> None:
    if runtime.limits is not None:
        decision = await runtime.limits.take(f"{actor.tenant_id}:{actor.type.value}:{actor.id}")
        if not decision.allowed:
            raise RateLimited(decision.headers())
        response.headers.update(decision.headers())


async def person_context(runtime: Runtime, response: Response, actor: Actor) -> Context:
    """The Context of a person read with a PersonToken, once their rate limit allows the request."""
    await _take_limit(runtime, response, actor)
    return Context(actor=actor, clock=runtime.clock, ids=runtime.ids, uow_factory=runtime.uow)


NO_ACTIVE_PERSON = "The token names no active person in this tenant."


async def verify_token(runtime: Runtime, secret: str) -> VerifiedToken:
    try:
        return await runtime.tokens.verify(secret)
    except InvalidToken as exc:
        raise Unauthenticated(exc.detail, invalid_token=True) from exc


async def authenticate(runtime: Runtime, secret: str) -> Actor:
    """The caller a bearer credential names: an integration key, or a person signed in with their IdP."""
    if secret.startswith(KEY_PREFIX):
        actor = await runtime.keys.actor(runtime.directory, secret)
        if actor is None:
            raise Unauthenticated("The API key is not valid or has been revoked.", invalid_token=True)
    else:
        verified = await verify_token(runtime, secret)
        person = await person_for_subject(
            runtime.uow(verified.idp.tenant_id, readonly=True), verified.idp.match, verified.subject,
        )
        if person is None:
            raise Unauthenticated(NO_ACTIVE_PERSON, invalid_token=True)
        actor = person_actor(verified.idp.tenant_id, person.id, person.is_admin)
    return actor


Ctx = Annotated[Context, Depends(get_context)]
Caller = Annotated[Context | PersonToken, Depends(get_caller)]

_ETAG = re.compile(r'^\s*(?:W/)?"(\d{1,18})"\s*$')


async def expected_version(
    if_match: Annotated[
        str,
        Header(description='Make the request conditional on the ETag from a previous read, e.g. `"3"`.', max_length=100),
    ] = None,  # type: ignore[assignment]  # optional, but never null
) -> int | None:
    """`If-Match: "3"` -> 3; `*` or absent -> None. A tag that is not a version can never match."""
    if if_match is None or if_match.strip() == "*":
        return None
    match = _ETAG.match(if_match)
    return int(match.group(1)) if match else -1


IfMatch = Annotated[int | None, Depends(expected_version)]


def set_etag(response: Response, version: int) -> None:
    response.headers["ETag"] = f'"{version}"'


def encode_cursor(after: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(after, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> Any:
    """The JSON sort key inside a cursor; repositories check its shape (a bad one is InvalidCursor, 400)."""
    try:
        return json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, binascii.Error) as exc:
        raise InvalidCursor() from exc


async def page_request(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Items per page.")] = DEFAULT_LIMIT,
    cursor: Annotated[str, Query(max_length=200, description="`next_cursor` from the previous page.")] = None,  # type: ignore[assignment]
) -> PageRequest:
    return PageRequest(limit=limit, after=None if cursor is None else decode_cursor(cursor))


Paging = Annotated[PageRequest, Depends(page_request)]


def page_body(request: Request, response: Response, page: Page[Any], items: list[Any]) -> dict[str, Any]:
    """The list envelope, and a `Link: <…>; rel="next"` header when another page exists."""
    return {"items": items, "next_cursor": page_cursor(request, response, page)}


def page_cursor(request: Request, response: Response, page: Page[Any]) -> str | None:
    """The page's next_cursor, and a `Link: <…>; rel="next"` header when another page exists."""
    next_cursor = None if page.next_after is None else encode_cursor(page.next_after)
    if next_cursor is not None:
        response.headers["Link"] = f'<{request.url.include_query_params(cursor=next_cursor)}>; rel="next"'
    return next_cursor


_OWN_HEADERS = (b"content-length", b"content-type")


def json_response(body: bytes, response: Response, status_code: int = 200) -> Response:
    """A JSON body serialised already (see schemas.assignments.assignment_json), with the headers the route
    and its dependencies set on `response` (ETag, Link, RateLimit-*): FastAPI sends a returned Response as it is."""
    out = Response(body, status_code, media_type="application/json")
    out.raw_headers.extend(header for header in response.raw_headers if header[0] not in _OWN_HEADERS)
    return out
