"""/v1/tenant: the caller's tenant settings."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, StringConstraints

from app.api.deps import Ctx, Paging, Runtime, page_body
from app.api.problems import problem_responses
from app.api.schemas.common import ListOf, RequestModel
from app.api.v1.webhooks import DeliveryOut
from app.domain.lrs import LrsHealth
from app.domain.webhooks import Delivery, Webhook
from app.services import lrs as lrs_service
from app.services import tenants

router = APIRouter(prefix="/v1/tenant", tags=["tenant"])


class IdentityProviderOut(BaseModel):
    issuer: str
    audience: str
    claim: str = Field(description="The token claim that names the person.")
    match: str = Field(description="Which person field the claim matches: external_id or email.")
    jwks: dict[str, Any] | None = Field(description="The configured JWKS document (public keys), if any.")
    jwks_url: str | None
    pem_keys: list[str] = Field(description="Configured PEM public keys, if any.")
    created_at: datetime
    updated_at: datetime


@router.get("/identity-provider", operation_id="get_identity_provider",
            summary="How this tenant's people sign in (admin)", responses=problem_responses(403, 404))
async def get_identity_provider(ctx: Ctx, request: Request) -> IdentityProviderOut:
    runtime: Runtime = request.app.state.runtime
    idp = await tenants.identity_provider(runtime.directory, ctx.actor)
    return IdentityProviderOut(
        issuer=idp.issuer, audience=idp.audience, claim=idp.claim, match=idp.match.value, jwks=idp.jwks,
        jwks_url=idp.jwks_url, pem_keys=list(idp.pem_keys), created_at=idp.created_at, updated_at=idp.updated_at,
    )


class LrsIn(RequestModel):
    endpoint: Annotated[str, StringConstraints(min_length=1, max_length=2000, pattern=r"^https?://[^\s\x00-\x1f]+$")] = Field(
        description="The LRS's xAPI base URL (statements go to `<endpoint>/statements`)."
    )
    key: Annotated[str, StringConstraints(min_length=1, max_length=250, pattern=r"^[^:\x00-\x1f]+$")]
    secret: Annotated[str, StringConstraints(min_length=1, max_length=250, pattern=r"^[^\x00-\x1f]+$")]
    home_page: Annotated[str, StringConstraints(min_length=1, max_length=2000, pattern=r"^https?://[^\s\x00-\x1f]+$")] = Field(
        description="The actor account's homePage: the system whose ids `external_id` holds (usually the HRIS)."
    )
    use_mbox: bool = Field(default=False, description="Identify learners by `mbox` (their email) instead of an account.")
    active: bool = Field(default=True, description="false pauses pushing: statements keep queuing and go out once it is true again.")


class LrsHealthOut(BaseModel):
    last_success_at: datetime | None = Field(description="When a statement last reached the LRS.")
    last_failure_at: datetime | None = Field(description="When an attempt last failed (of a statement not delivered since).")
    last_failure_status_code: int | None = Field(description="The LRS's answer to that attempt (null: no answer, see the error).")
    last_failure_error: str | None
    backlog: int = Field(description="Statements not delivered yet.")
    oldest_pending_age_seconds: float | None = Field(description="How long the oldest undelivered statement has waited.")
    failing_since: datetime | None = Field(description="Since when every attempt has failed; null while deliveries succeed.")


class LrsOut(BaseModel):
    endpoint: str
    key: str
    home_page: str
    use_mbox: bool
    active: bool = Field(description="Whether statements are being pushed (false: paused, or disabled after 410 Gone).")
    disabled_reason: str | None = Field(description="Why Stint stopped pushing (410 Gone, or 5 days of failures).")
    health: LrsHealthOut
    created_at: datetime
    updated_at: datetime


def _lrs_out(lrs: Webhook, health: LrsHealth, now: datetime) -> LrsOut:
    oldest = health.oldest_pending_at
    return LrsOut(
        endpoint=lrs.url, key=(lrs.basic_auth or "").split(":", 1)[0], home_page=lrs.xapi_home_page or "",
        use_mbox=lrs.xapi_use_mbox, active=lrs.active, disabled_reason=lrs.disabled_reason, created_at=lrs.created_at,
        updated_at=lrs.updated_at, health=LrsHealthOut(
            last_success_at=health.last_success_at, last_failure_at=health.last_failure_at,
            last_failure_status_code=health.last_failure_status_code, last_failure_error=health.last_failure_error,
            backlog=health.backlog, failing_since=health.failing_since,
            oldest_pending_age_seconds=None if oldest is None else max(0.0, round((now - oldest).total_seconds(), 3)),
        ),
    )


class DiscardedOut(BaseModel):
    discarded: int = Field(description="How many undelivered statements were dropped (they stay served by GET /v1/xapi/statements).")


class LrsDeliveryOut(DeliveryOut):
    statement_id: UUID | None = Field(description="The statement this delivery sends.")
    last_body_excerpt: str | None = Field(description="The start of the LRS's last answer, when it was not a success.")

    @classmethod
    def of_lrs(cls, d: Delivery) -> LrsDeliveryOut:
        statement_id = (d.payload or {}).get("id")
        excerpt = d.log[-1].get("body_excerpt") if d.log else None
        return cls(**DeliveryOut.of(d).model_dump(), statement_id=statement_id, last_body_excerpt=excerpt)


class LrsDeliveryList(ListOf[LrsDeliveryOut]):
    pass


@router.put("/lrs", operation_id="set_lrs", summary="Forward xAPI statements to a learning record store, or change its settings (admin)",
            description="Changing the settings (a new endpoint, rotated credentials, a pause) keeps every statement not yet "
                        "delivered; once active, they are due at once and go out with the new settings.",
            responses=problem_responses(400, 403, 415, 422))
async def set_lrs(ctx: Ctx, body: LrsIn, request: Request) -> LrsOut:
    allow_private = request.app.state.settings.webhooks_allow_private
    fields = lrs_service.LrsFields(body.endpoint, body.key, body.secret, body.home_page, body.use_mbox, body.active)
    return _lrs_out(*await lrs_service.set_lrs(ctx, fields, allow_private), ctx.clock.now())


@router.get("/lrs", operation_id="get_lrs", summary="The learning record store statements go to, and how delivery goes (admin)",
            responses=problem_responses(403, 404))
async def get_lrs(ctx: Ctx) -> LrsOut:
    return _lrs_out(*await lrs_service.get_lrs(ctx), ctx.clock.now())


@router.delete("/lrs", status_code=204, operation_id="delete_lrs", summary="Stop forwarding statements (admin)",
               description="Refused (409, with `pending`) while statements are not delivered yet, unless `discard_pending=true`, "
                           "which drops them and answers 200 with how many.",
               responses={200: {"model": DiscardedOut, "description": "Deleted; undelivered statements dropped."},
                          **problem_responses(400, 403, 404, 409, 422)})
async def delete_lrs(
    ctx: Ctx, discard_pending: Annotated[bool, Query(description="Drop the statements not delivered yet.")] = False,
) -> Response:
    discarded = await lrs_service.delete_lrs(ctx, discard_pending)
    if discard_pending:
        return JSONResponse(DiscardedOut(discarded=discarded).model_dump())
    return Response(status_code=204)


@router.get("/lrs/deliveries", operation_id="list_lrs_deliveries",
            summary="The LRS's delivery log, newest first: each statement's status, attempts, last answer, next attempt (admin)",
            responses=problem_responses(400, 403, 404, 422))
async def list_lrs_deliveries(ctx: Ctx, paging: Paging, request: Request, response: Response) -> LrsDeliveryList:
    page = await lrs_service.deliveries(ctx, paging)
    return LrsDeliveryList(**page_body(request, response, page, [LrsDeliveryOut.of_lrs(d) for d in page.items]))


@router.post("/lrs/deliveries/{delivery_id}/retry", operation_id="retry_lrs_delivery",
             summary="Send a statement to the LRS again now, with a fresh retry schedule (admin)",
             responses=problem_responses(403, 404, 422))
async def retry_lrs_delivery(ctx: Ctx, delivery_id: Annotated[UUID, Path(description="The delivery's id.")]) -> LrsDeliveryOut:
    return LrsDeliveryOut.of_lrs(await lrs_service.retry_delivery(ctx, delivery_id))
