"""The tenant's learning record store: where statements are pushed, and how their delivery is going.

The LRS is a webhook row of kind `xapi`, changed in place: its pending deliveries survive a new endpoint, new
credentials or a pause, and are sent with the settings in force when they go out. Only a DELETE that asks
for it (`discard_pending`) drops statements not yet delivered."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from app.domain import webhooks as wh
from app.domain import xapi
from app.domain.actors import Scope
from app.domain.errors import Conflict, NotFound
from app.domain.lrs import LrsHealth
from app.domain.pagination import Page, PageRequest
from app.domain.webhooks import Delivery, Webhook, WebhookKind
from app.services.context import Context, require_found
from app.services.webhooks import check_url


@dataclass(frozen=True)
class LrsFields:
    endpoint: str
    key: str
    secret: str
    home_page: str
    use_mbox: bool = False
    active: bool = True
    """False pauses pushing: statements keep queuing, and go out once it is true again."""


async def _lrs(uow: Any) -> Webhook | None:
    page = await uow.webhooks.list(PageRequest(limit=1), kind=WebhookKind.XAPI)
    return page.items[0] if page.items else None


async def _require(uow: Any, ctx: Context) -> Webhook:
    lrs = await _lrs(uow)
    if lrs is None:
        raise NotFound("learning record store for this tenant", ctx.actor.tenant_id)
    return lrs


async def set_lrs(ctx: Context, fields: LrsFields, allow_private: bool) -> tuple[Webhook, LrsHealth]:
    """Configure the LRS, or change it in place: what is pending stays, and (when active) is due at once."""
    ctx.actor.require(Scope.ADMIN)
    check_url(fields.endpoint, allow_private, "endpoint")
    now = ctx.clock.now()
    async with ctx.uow() as uow:
        lrs = await _lrs(uow)
        if lrs is None:
            lrs = Webhook(
                id=ctx.ids.new_id(), tenant_id=ctx.actor.tenant_id, url=fields.endpoint, event_types=xapi.STATEMENT_TYPES,
                description="Learning record store", active=fields.active, secret=wh.new_secret(), version=1, created_at=now,
                updated_at=now, kind=WebhookKind.XAPI, basic_auth=f"{fields.key}:{fields.secret}", xapi_home_page=fields.home_page,
                xapi_use_mbox=fields.use_mbox,
            )
            await uow.webhooks.add(lrs)
        else:
            expected = lrs.version
            lrs.url, lrs.basic_auth, lrs.xapi_home_page = fields.endpoint, f"{fields.key}:{fields.secret}", fields.home_page
            lrs.xapi_use_mbox, lrs.active, lrs.event_types = fields.use_mbox, fields.active, xapi.STATEMENT_TYPES
            lrs.disabled_reason, lrs.failing_since = None, None  # new settings: failures are counted afresh
            lrs.version, lrs.updated_at = lrs.version + 1, now
            await uow.webhooks.update(lrs, expected)
            if lrs.active:
                await uow.lrs.retry_pending_now(lrs.id, now)
        health = await uow.lrs.health(lrs.id)
        await uow.commit()
    return lrs, health


async def get_lrs(ctx: Context) -> tuple[Webhook, LrsHealth]:
    ctx.actor.require(Scope.ADMIN)
    async with ctx.uow(readonly=True) as uow:
        lrs = await _require(uow, ctx)
        return lrs, await uow.lrs.health(lrs.id)


async def delete_lrs(ctx: Context, discard_pending: bool) -> int:
    """Stop pushing statements; returns how many undelivered ones were discarded. With some pending and no
    `discard_pending`, nothing changes: a 409 says how many would be lost. Statements stay served by pull."""
    ctx.actor.require(Scope.ADMIN)
    async with ctx.uow() as uow:
        lrs = await _require(uow, ctx)
        pending = await uow.lrs.pending(lrs.id)
        if pending and not discard_pending:
            raise Conflict(
                f"{pending} statement(s) are not delivered to the LRS yet; fix its settings with PUT /v1/tenant/lrs, "
                "or delete with ?discard_pending=true to drop them.", code="lrs.pending_deliveries", pending=pending,
            )
        await uow.webhooks.delete(lrs.id)
        await uow.commit()
    return pending


async def deliveries(ctx: Context, page: PageRequest) -> Page[Delivery]:
    ctx.actor.require(Scope.ADMIN)
    async with ctx.uow(readonly=True) as uow:
        lrs = await _require(uow, ctx)
        return await uow.deliveries.list(lrs.id, page)


async def retry_delivery(ctx: Context, delivery_id: UUID) -> Delivery:
    """Send one statement again now, with a fresh retry schedule (one that failed for good, too)."""
    ctx.actor.require(Scope.ADMIN)
    async with ctx.uow() as uow:
        lrs = await _require(uow, ctx)
        delivery = require_found(await uow.deliveries.get(lrs.id, delivery_id), "delivery", delivery_id)
        wh.retry(delivery, ctx.clock.now())
        await uow.deliveries.update(delivery)
        await uow.commit()
    return delivery
