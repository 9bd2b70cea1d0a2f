"""Webhooks: managing endpoints, and delivering the outbox to them (at least once, in order per subject)."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import ipaddress
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlparse
from uuid import UUID

from pydantic_core import to_json

from app.domain import webhooks as wh
from app.domain import xapi
from app.domain.actors import ActorRef, ActorType, Scope
from app.domain.errors import NotFound, invalid
from app.domain.events import EVENT_TYPES, Event
from app.domain.pagination import Page, PageRequest
from app.domain.ports import Clock, IdGenerator, OutboxUnitOfWork, WebhookSender
from app.domain.webhooks import Claimed, Delivery, Webhook, WebhookKind
from app.services.context import Context, build_event, check_if_match, record, require_found

SYSTEM = ActorRef(ActorType.SYSTEM, None)
LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain"})


@dataclass(frozen=True)
class WebhookFields:
    url: str
    event_types: tuple[str, ...] = ("*",)
    description: str | None = None
    active: bool = True


def check_url(url: str, allow_private: bool, field: str = "url") -> None:
    """https only, and never a loopback, private or link-local address, unless allow_private (development)."""
    loc = (field,)
    try:
        parsed = urlparse(url)
        host = parsed.hostname
    except ValueError as exc:  # e.g. an unclosed IPv6 bracket
        raise invalid(loc, f"Not a valid URL: {exc}.", code="webhook.invalid_url") from exc
    if allow_private:
        if parsed.scheme not in ("http", "https") or not host:
            raise invalid(loc, "The URL must be an http(s) URL with a host.", code="webhook.invalid_url")
        return
    if parsed.scheme != "https" or not host:
        raise invalid(loc, "The URL must use https and name a host.", code="webhook.invalid_url")
    if host.lower() in LOOPBACK_NAMES or _is_private_literal(host):
        raise invalid(loc, "The URL may not point at a loopback, private or link-local address.", code="webhook.private_url")


def _is_private_literal(host: str) -> bool:
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return not address.is_global


def check_event_types(patterns: tuple[str, ...]) -> None:
    for index, pattern in enumerate(patterns):
        if pattern != "*" and not pattern.endswith(".*") and pattern not in EVENT_TYPES:
            raise invalid(("event_types", index), f"Unknown event type '{pattern}'; see docs/events.md.", code="webhook.unknown_event_type")


async def create(ctx: Context, fields: WebhookFields, allow_private: bool) -> Webhook:
    ctx.actor.require(Scope.WEBHOOKS_MANAGE)
    check_url(fields.url, allow_private)
    check_event_types(fields.event_types)
    now = ctx.clock.now()
    webhook = Webhook(
        id=ctx.ids.new_id(), tenant_id=ctx.actor.tenant_id, url=fields.url, event_types=fields.event_types,
        description=fields.description, active=fields.active, secret=wh.new_secret(), version=1, created_at=now, updated_at=now,
    )
    async with ctx.uow() as uow:
        await uow.webhooks.add(webhook)
        await uow.commit()
    return webhook


async def _standard(uow: Any, webhook_id: UUID) -> Webhook:
    """A webhook endpoint; the tenant's LRS (managed at /v1/tenant/lrs) is not one of them here."""
    webhook = await uow.webhooks.get(webhook_id)
    if webhook is None or webhook.kind is not WebhookKind.STANDARD:
        raise NotFound("webhook", webhook_id)
    return webhook


async def get(ctx: Context, webhook_id: UUID) -> Webhook:
    ctx.actor.require(Scope.WEBHOOKS_MANAGE)
    async with ctx.uow(readonly=True) as uow:
        return await _standard(uow, webhook_id)


async def list_(ctx: Context, page: PageRequest) -> Page[Webhook]:
    ctx.actor.require(Scope.WEBHOOKS_MANAGE)
    async with ctx.uow(readonly=True) as uow:
        return await uow.webhooks.list(page)


async def update(ctx: Context, webhook_id: UUID, changes: dict[str, Any], allow_private: bool,
    expected_version: int | None = None) -> Webhook:
    ctx.actor.require(Scope.WEBHOOKS_MANAGE)
    if "url" in changes:
        check_url(changes["url"], allow_private)
    if "event_types" in changes:
        check_event_types(changes["event_types"])
    async with ctx.uow() as uow:
        webhook = await _standard(uow, webhook_id)
        check_if_match(webhook.version, expected_version)
        expected = webhook.version
        for name, value in changes.items():
            setattr(webhook, name, value)
        if changes.get("active"):  # re-enabled by hand: start counting failures afresh
            webhook.disabled_reason, webhook.failing_since = None, None
        await _save(ctx, uow, webhook, expected)
    return webhook


async def _save(ctx: Context, uow: Any, webhook: Webhook, expected: int) -> None:
    """A changed webhook: next version, compare-and-set, commit."""
    webhook.version += 1
    webhook.updated_at = ctx.clock.now()
    await uow.webhooks.update(webhook, expected)
    await uow.commit()


async def delete(ctx: Context, webhook_id: UUID) -> None:
    ctx.actor.require(Scope.WEBHOOKS_MANAGE)
    async with ctx.uow() as uow:
        await _standard(uow, webhook_id)
        await uow.webhooks.delete(webhook_id)
        await uow.commit()


async def rotate_secret(ctx: Context, webhook_id: UUID) -> Webhook:
    """A new secret; the old one keeps signing beside it for 24 hours, so receivers can switch without a gap."""
    ctx.actor.require(Scope.WEBHOOKS_MANAGE)
    async with ctx.uow() as uow:
        webhook = await _standard(uow, webhook_id)
        expected = webhook.version
        webhook.rotate(ctx.clock.now())
        await _save(ctx, uow, webhook, expected)
    return webhook


async def ping(ctx: Context, webhook_id: UUID) -> Event:
    """Record a `webhook.ping` event, which only this webhook receives."""
    ctx.actor.require(Scope.WEBHOOKS_MANAGE)
    async with ctx.uow() as uow:
        webhook = await _standard(uow, webhook_id)
        event = await record(ctx, uow, "webhook.ping", webhook)
        await uow.commit()
    return event


async def deliveries(ctx: Context, webhook_id: UUID, page: PageRequest) -> Page[Delivery]:
    ctx.actor.require(Scope.WEBHOOKS_MANAGE)
    async with ctx.uow(readonly=True) as uow:
        await _standard(uow, webhook_id)
        return await uow.deliveries.list(webhook_id, page)


async def retry_delivery(ctx: Context, webhook_id: UUID, delivery_id: UUID) -> Delivery:
    ctx.actor.require(Scope.WEBHOOKS_MANAGE)
    async with ctx.uow() as uow:
        await _standard(uow, webhook_id)
        delivery = require_found(await uow.deliveries.get(webhook_id, delivery_id), "delivery", delivery_id)
        wh.retry(delivery, ctx.clock.now())
        await uow.deliveries.update(delivery)
        await uow.commit()
    return delivery


# -- delivery -------------------------------------------------------------------
def payload(event: Event) -> bytes:
    """The Standard Webhooks body: `{type, timestamp, data}`; data is the event as the feed shows it."""
    return to_json({
        "type": event.type,
        "timestamp": event.occurred_at,
        "data": {
            "id": event.id, "type": event.type, "occurred_at": event.occurred_at,
            "actor": {"type": event.actor.type.value, "id": event.actor.id, "on_behalf_of": event.actor.on_behalf_of},
            "subject": {"type": event.subject_type, "id": event.subject_id}, "data": event.data, "details": event.details,
        },
    })


def request_for(claimed: Claimed, now: datetime) -> tuple[str, dict[str, str], bytes, str]:
    """(url, headers, body, method): a signed Standard Webhooks POST, or an idempotent xAPI PUT to an LRS."""
    hook = claimed.webhook
    if hook.kind is WebhookKind.XAPI:  # the LRS's settings as they are now; the statement as it was frozen
        statement = claimed.delivery.payload or {}
        frozen = statement.get("text")
        body = frozen.encode() if isinstance(frozen, str) else to_json(statement)  # deliveries queued before 0011 hold the dict
        credentials = base64.b64encode((hook.basic_auth or "").encode()).decode()
        url = f"{hook.url.rstrip('/')}/statements?statementId={statement.get('id', '')}"
        return url, {
            "content-type": "application/json", "x-experience-api-version": xapi.XAPI_VERSION,
            "authorization": f"Basic {credentials}", "user-agent": "Stint-xAPI/1",
        }, body, "PUT"
    headers, body = headers_for(claimed, now)
    return hook.url, headers, body, "POST"


def headers_for(claimed: Claimed, now: datetime) -> tuple[dict[str, str], bytes]:
    body = payload(claimed.event)
    message_id = f"msg_{claimed.event.id}"
    timestamp = int(now.timestamp())
    return {
        "content-type": "application/json",
        "user-agent": "Stint-Webhooks/1",
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": claimed.webhook.signatures(message_id, timestamp, body, now),
    }, body


@dataclass(frozen=True)
class DeliveryReport:
    claimed: int
    succeeded: int
    failed: int


async def deliver_due(
    new_uow: Any, sender: WebhookSender, clock: Clock, ids: IdGenerator, rng: random.Random, *,
    batch_size: int, lease: timedelta = timedelta(minutes=2),
) -> DeliveryReport:
    """Claim a batch (short transaction), send it with no transaction open, record the results (another)."""
    uow: OutboxUnitOfWork = new_uow()
    async with uow:
        claimed = await uow.outbox.claim(clock.now(), batch_size, lease)
        await uow.commit()
    if not claimed:
        return DeliveryReport(0, 0, 0)
    sent_at = clock.now()
    requests = [request_for(item, sent_at) for item in claimed]
    results = await asyncio.gather(*(sender.send(url, headers, body, method) for url, headers, body, method in requests))
    now = clock.now()
    for item, result in zip(claimed, results, strict=True):
        wh.record_attempt(item.delivery, result, now, rng)
    health = _health(claimed, results, now)
    uow = new_uow()
    async with uow:
        disabled = await uow.outbox.save([(item.delivery, item.leased_until) for item in claimed], health)
        hooks = {item.webhook.id: item.webhook for item in claimed}
        await uow.outbox.add_events([
            build_event(ids.new_id(), h.tenant_id, "webhook.disabled", now, SYSTEM, _disabled(hooks[h.webhook_id], h),
                {"reason": h.disable_reason})
            for h in health if h.webhook_id in disabled
        ])
        await uow.commit()
    succeeded = sum(1 for result in results if result.succeeded)
    return DeliveryReport(len(claimed), succeeded, len(claimed) - succeeded)


def _health(claimed: list[Claimed], results: list[wh.AttemptResult], now: datetime) -> list[wh.Health]:
    """Per webhook, what this round changes: failing since when (reset by any success), and whether to disable."""
    by_hook: dict[UUID, tuple[Webhook, list[wh.AttemptResult]]] = {}
    for item, result in zip(claimed, results, strict=True):
        by_hook.setdefault(item.webhook.id, (item.webhook, []))[1].append(result)
    changes = []
    for webhook, outcomes in by_hook.values():
        if any(result.succeeded for result in outcomes):
            if webhook.failing_since is not None:
                changes.append(wh.Health(webhook.tenant_id, webhook.id, webhook.version, None))
            continue
        failing_since = webhook.failing_since or now
        reason = None
        if webhook.active and any(result.gone for result in outcomes):
            reason = "The receiver answered 410 Gone."
        elif webhook.active and now - failing_since >= wh.FAILING_LIMIT:
            reason = "Every delivery failed for 5 days."
        if reason or webhook.failing_since is None:
            changes.append(wh.Health(webhook.tenant_id, webhook.id, webhook.version, failing_since, reason))
    return changes


def _disabled(webhook: Webhook, health: wh.Health) -> Webhook:
    return dataclasses.replace(webhook, active=False, disabled_reason=health.disable_reason, version=webhook.version + 1)
