"""/v1/tenant: the caller's tenant settings."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from app.api.deps import Ctx, Runtime
from app.api.problems import problem_responses
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
    idp = await tenants.identity_provider(runtime.database, ctx.actor)
    return IdentityProviderOut(
        issuer=idp.issuer, audience=idp.audience, claim=idp.claim, match=idp.match.value, jwks=idp.jwks,
        jwks_url=idp.jwks_url, pem_keys=list(idp.pem_keys), created_at=idp.created_at, updated_at=idp.updated_at,
    )
