"""Managing webhooks (app/services/webhooks.py) on the in-memory fakes: what an integrator sees and receives."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from uuid import UUID, uuid4

import pytest

from app.domain import webhooks as wh
from app.domain.actors import Scope
from app.domain.errors import ConcurrentUpdate, InvalidInput, NotFound, PermissionDenied, PreconditionFailed
from app.domain.pagination import PageRequest
from app.repositories.memory import MemoryDatabase
from app.services import assignments, people, webhooks
from app.services.context import Context, record
from app.services.people import PersonFields
from app.services.webhooks import WebhookFields
from tests.fakes import FakeSender, SentRequest

HOOKS = "https://hooks.example.com"


async def hook(ctx: Context, path: str = "/all", *types: str, active: bool = True) -> wh.Webhook:
    return await webhooks.create(ctx, WebhookFields(url=HOOKS + path, event_types=types or ("*",), active=active), allow_private=False)


async def queued(ctx: Context, webhook_id: UUID) -> list[str]:
    """The event types in a webhook's delivery log, oldest first (the log lists newest first)."""
    return [d.event_type for d in reversed((await webhooks.deliveries(ctx, webhook_id, PageRequest(limit=200))).items)]


def body(request: SentRequest) -> dict[str, Any]:
    return json.loads(request.body)


def signed_by(request: SentRequest, secret: str) -> bool:
    expected = wh.signature(secret, request.headers["webhook-id"], int(request.headers["webhook-timestamp"]), request.body)
    return expected in request.headers["webhook-signature"].split(" ")


# -- create, read, update, rotate, delete ---------------------------------------------


async def test_a_created_webhook_is_read_back_and_listed(ctx: Context, clock: Any) -> None:
    fields = WebhookFields(url=HOOKS + "/a", event_types=("assignment.*",), description="LMS")
    created = await webhooks.create(ctx, fields, allow_private=False)
    assert created.secret.startswith("whsec_")
    assert (created.version, created.active, created.created_at, created.event_types) == (1, True, clock.now(), ("assignment.*",))
    assert await webhooks.get(ctx, created.id) == created
    assert (await webhooks.list_(ctx, PageRequest())).items == [created]


@pytest.mark.parametrize(("url", "code"), [
    ("http://hooks.example.com/a", "webhook.invalid_url"),
    ("https://127.0.0.1/a", "webhook.private_url"),
    ("https://[::1]/a", "webhook.private_url"),
    ("https://localhost/a", "webhook.private_url"),
    ("https://10.1.2.3/a", "webhook.private_url"),
])
async def test_a_webhook_must_point_at_a_public_https_url(ctx: Context, url: str, code: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        await webhooks.create(ctx, WebhookFields(url=url), allow_private=False)
    assert refused.value.code == code
    assert (await webhooks.list_(ctx, PageRequest())).items == [], "nothing was stored"


async def test_an_unknown_event_type_is_refused(ctx: Context) -> None:
    with pytest.raises(InvalidInput) as refused:
        await webhooks.create(ctx, WebhookFields(url=HOOKS, event_types=("assignment.acepted",)), allow_private=False)
    assert refused.value.code == "webhook.unknown_event_type"


async def test_managing_webhooks_needs_the_scope(make_ctx: Callable[..., Context], ctx: Context, tenant_id: UUID) -> None:
    existing = await hook(ctx)
    reader = make_ctx(tenant_id, {Scope.PEOPLE_WRITE, Scope.EVENTS_READ})
    with pytest.raises(PermissionDenied):
        await hook(reader)
    with pytest.raises(PermissionDenied):
        await webhooks.get(reader, existing.id)
    with pytest.raises(PermissionDenied):
        await webhooks.delete(reader, existing.id)
    assert await webhooks.get(ctx, existing.id) == existing


async def test_an_update_changes_what_is_sent_where(ctx: Context, clock: Any, sender: FakeSender, deliver: Any) -> None:
    created = await hook(ctx, "/old", "person.created")
    clock.advance(minutes=1)
    updated = await webhooks.update(ctx, created.id, {"url": HOOKS + "/new", "event_types": ("person.*",)}, False, expected_version=1)
    assert (updated.version, updated.updated_at, updated.url) == (2, clock.now(), HOOKS + "/new")
    assert await webhooks.get(ctx, created.id) == updated

    person = await people.create_person(ctx, "hr-1", PersonFields(display_name="Ada"))
    await people.update_person(ctx, person.id, {"title": "Engineer"})
    await deliver()
    await deliver()
    assert [body(r)["type"] for r in sender.sent] == ["person.created", "person.updated"]
    assert sender.to(HOOKS + "/old") == []


async def test_an_update_with_a_stale_version_changes_nothing(ctx: Context) -> None:
    created = await hook(ctx)
    await webhooks.update(ctx, created.id, {"description": "first"}, False, expected_version=1)
    with pytest.raises(PreconditionFailed):
        await webhooks.update(ctx, created.id, {"description": "second"}, False, expected_version=1)
    assert (await webhooks.get(ctx, created.id)).description == "first"


async def test_after_a_rotation_both_secrets_sign_for_a_day(ctx: Context, clock: Any, sender: FakeSender, deliver: Any) -> None:
    created = await hook(ctx)
    rotated = await webhooks.rotate_secret(ctx, created.id)
    assert rotated.secret != created.secret and rotated.previous_secret == created.secret
    assert rotated.version == 2

    await webhooks.ping(ctx, created.id)
    await deliver()
    assert signed_by(sender.sent[-1], rotated.secret) and signed_by(sender.sent[-1], created.secret)

    clock.advance(hours=24, seconds=1)
    await webhooks.ping(ctx, created.id)
    await deliver()
    assert signed_by(sender.sent[-1], rotated.secret) and not signed_by(sender.sent[-1], created.secret)


async def test_a_deleted_webhook_is_gone_with_its_log(
    ctx: Context, db: MemoryDatabase, tenant_id: UUID, sender: FakeSender, deliver: Any,
) -> None:
    doomed, kept = await hook(ctx, "/doomed"), await hook(ctx, "/kept")
    await people.create_person(ctx, "hr-1", PersonFields(display_name="Ada"))
    await webhooks.delete(ctx, doomed.id)

    for read in (webhooks.get(ctx, doomed.id), webhooks.deliveries(ctx, doomed.id, PageRequest()), webhooks.delete(ctx, doomed.id)):
        with pytest.raises(NotFound):
            await read
    assert [d.webhook_id for d in db.stores[tenant_id].deliveries.values()] == [kept.id], "its pending delivery went with it"
    await deliver()
    assert [r.url for r in sender.sent] == [HOOKS + "/kept"]


# -- which events a webhook gets ----------------------------------------------------------


async def test_deliveries_are_queued_for_matching_events_only(ctx: Context, seeded: Any) -> None:
    on_people = await hook(ctx, "/people", "person.*")
    on_offers = await hook(ctx, "/offers", "assignment.offered")
    paused = await hook(ctx, "/paused", active=False)

    person = await people.create_person(ctx, "hr-3", PersonFields(display_name="Ada", manager_id=seeded.manager.id))
    await assignments.offer(ctx, assignments.Offer(brief_id=seeded.brief.id, assignee_id=person.id))

    assert await queued(ctx, on_people.id) == ["person.created"]
    assert await queued(ctx, on_offers.id) == ["assignment.offered"]
    assert await queued(ctx, paused.id) == [], "an inactive webhook gets nothing"


async def test_nothing_is_queued_for_a_unit_of_work_that_does_not_commit(ctx: Context, db: MemoryDatabase, tenant_id: UUID) -> None:
    created = await hook(ctx)
    async with ctx.uow() as uow:
        await record(ctx, uow, "webhook.ping", await uow.webhooks.get(created.id))  # and no commit
    assert db.events(tenant_id) == [] and await queued(ctx, created.id) == []


async def test_a_ping_reaches_only_its_webhook(ctx: Context, sender: FakeSender, deliver: Any) -> None:
    pinged, other = await hook(ctx, "/pinged"), await hook(ctx, "/other")
    event = await webhooks.ping(ctx, pinged.id)
    report = await deliver()

    assert (report.claimed, report.succeeded) == (1, 1)
    [request] = sender.sent
    assert (request.url, request.method, request.headers["webhook-id"]) == (HOOKS + "/pinged", "POST", f"msg_{event.id}")
    assert signed_by(request, pinged.secret)
    sent = body(request)
    assert (sent["type"], sent["data"]["subject"], sent["data"]["data"]["url"]) == (
        "webhook.ping", {"type": "webhook", "id": str(pinged.id)}, HOOKS + "/pinged",
    )
    assert "secret" not in sent["data"]["data"], "an event never carries a webhook's secret"
    assert await queued(ctx, other.id) == []


# -- tenants ------------------------------------------------------------------------------


async def test_a_tenant_neither_sees_nor_receives_another_tenants_webhooks(
    make_ctx: Callable[..., Context], ctx: Context, sender: FakeSender, deliver: Any,
) -> None:
    ours = await hook(ctx, "/ours")
    theirs_ctx = make_ctx(uuid4())
    theirs = await hook(theirs_ctx, "/theirs")
    await people.create_person(ctx, "hr-1", PersonFields(display_name="Ada"))
    await people.create_person(theirs_ctx, "hr-1", PersonFields(display_name="Bo"))

    assert (await webhooks.list_(theirs_ctx, PageRequest())).items == [theirs]
    for attempt in (webhooks.get(theirs_ctx, ours.id), webhooks.deliveries(theirs_ctx, ours.id, PageRequest()),
                    webhooks.update(theirs_ctx, ours.id, {"active": False}, False), webhooks.delete(theirs_ctx, ours.id),
                    webhooks.ping(theirs_ctx, ours.id)):
        with pytest.raises(NotFound):
            await attempt
    [delivery] = (await webhooks.deliveries(ctx, ours.id, PageRequest())).items
    with pytest.raises(NotFound):
        await webhooks.retry_delivery(theirs_ctx, ours.id, delivery.id)

    report = await deliver()  # the worker serves every tenant, each to its own webhooks
    assert report.claimed == 2
    names = {r.url: body(r)["data"]["data"]["display_name"] for r in sender.sent}
    assert names == {HOOKS + "/ours": "Ada", HOOKS + "/theirs": "Bo"}
    assert (await webhooks.get(ctx, ours.id)).active, "unchanged by the other tenant's attempts"


async def test_two_racing_updates_make_one_success_and_one_conflict(ctx: Context) -> None:
    created = await hook(ctx)
    async with ctx.uow() as first, ctx.uow() as second:
        one, two = await first.webhooks.get(created.id), await second.webhooks.get(created.id)
        for uow, webhook, description in ((first, one, "first"), (second, two, "second")):
            webhook.description, webhook.version = description, 2
            await uow.webhooks.update(webhook, 1)
        await first.commit()
        with pytest.raises(ConcurrentUpdate):
            await second.commit()
    assert (await webhooks.get(ctx, created.id)).description == "first"


async def test_the_delivery_log_pages_newest_first(ctx: Context) -> None:
    created = await hook(ctx)
    for _ in range(5):
        await webhooks.ping(ctx, created.id)
    everything = await webhooks.deliveries(ctx, created.id, PageRequest(limit=10))
    first = await webhooks.deliveries(ctx, created.id, PageRequest(limit=2))
    rest = await webhooks.deliveries(ctx, created.id, PageRequest(limit=10, after=first.next_after))
    assert [d.id for d in everything.items] == sorted((d.id for d in everything.items), reverse=True)
    assert [d.id for d in first.items + rest.items] == [d.id for d in everything.items]
    assert rest.next_after is None
