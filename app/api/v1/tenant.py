"""/v1/tenant: the caller's tenant settings."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field, StringConstraints

from app.api.deps import Ctx, Runtime
from app.api.problems import problem_responses
from app.api.schemas.common import RequestModel
from app.services import tenants, webhooks

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


class LrsOut(BaseModel):
    endpoint: str
    key: str
    home_page: str
    use_mbox: bool
    active: bool
    created_at: datetime


def _lrs_out(lrs: Any) -> LrsOut:
    return LrsOut(
        endpoint=lrs.url, key=(lrs.basic_auth or "").split(":", 1)[0], home_page=lrs.xapi_home_page or "",
        use_mbox=lrs.xapi_use_mbox, active=lrs.active, created_at=lrs.created_at,
    )


@router.put("/lrs", operation_id="set_lrs", summary="Forward xAPI statements to a learning record store (admin)",
            responses=problem_responses(400, 403, 415, 422))
async def set_lrs(ctx: Ctx, body: LrsIn, request: Request) -> LrsOut:
    allow_private = request.app.state.settings.webhooks_allow_private
    fields = webhooks.LrsFields(body.endpoint, body.key, body.secret, body.home_page, body.use_mbox)
    return _lrs_out(await webhooks.set_lrs(ctx, fields, allow_private))


@router.get("/lrs", operation_id="get_lrs", summary="The learning record store statements go to (admin)",
            responses=problem_responses(403, 404))
async def get_lrs(ctx: Ctx) -> LrsOut:
    return _lrs_out(await webhooks.get_lrs(ctx))


@router.delete("/lrs", status_code=204, operation_id="delete_lrs", summary="Stop forwarding statements (admin)",
               responses=problem_responses(403, 404))
async def delete_lrs(ctx: Ctx) -> Response:
    await webhooks.delete_lrs(ctx)
    return Response(status_code=204)
