"""Delivering the outbox (app/services/webhooks.py deliver_due) on the in-memory fakes, with a fake clock and receiver."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from typing import Any
from uuid import UUID

from app.domain import webhooks as wh
from app.domain import xapi
from app.domain.deadlines import ReminderPolicy
from app.domain.pagination import PageRequest
from app.domain.webhooks import DeliveryStatus
from app.repositories.clock import Uuid7Ids
from app.repositories.memory import MemoryDatabase
from app.services import assignments, people, statements, sweeper, webhooks
from app.services import lrs as lrs_service
from app.services.context import Context
from app.services.lrs import LrsFields
from app.services.people import PersonFields
from app.services.webhooks import WebhookFields
from tests.fakes import FakeSender, SentRequest

URL = "https://hooks.example.com/stint"


async def hook(ctx: Context, *types: str) -> wh.Webhook:
    return await webhooks.create(ctx, WebhookFields(url=URL, event_types=types or ("*",)), allow_private=False)


async def log(ctx: Context, webhook_id: UUID) -> list[wh.Delivery]:
    """The delivery log as the integrator reads it: newest first."""
    return (await webhooks.deliveries(ctx, webhook_id, PageRequest(limit=200))).items


def body(request: SentRequest) -> dict[str, Any]:
    return json.loads(request.body)


async def test_a_delivery_that_succeeds_is_logged_once(ctx: Context, clock: Any, sender: FakeSender, deliver: Any) -> None:
    receiver = await hook(ctx, "person.*")
    person = await people.create_person(ctx, "hr-9", PersonFields(display_name="Ada", email="ada@example.com"))
    report = await deliver()

    assert (report.claimed, report.succeeded, report.failed) == (1, 1, 0)
    [request] = sender.sent
    sent = body(request)
    assert (sent["type"], sent["data"]["subject"]["id"], sent["data"]["data"]["external_id"]) == ("person.created", str(person.id), "hr-9")
    assert "tenant_id" not in sent["data"]["data"]
    [delivery] = await log(ctx, receiver.id)
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == (DeliveryStatus.SUCCEEDED, 1, 200)
    assert delivery.next_attempt_at is None
    assert [entry["status_code"] for entry in delivery.log] == [200]
    assert (await deliver()).claimed == 0, "delivered once"


async def test_a_failed_delivery_is_retried_with_backoff(ctx: Context, clock: Any, sender: FakeSender, deliver: Any) -> None:
    receiver = await hook(ctx)
    sender.answer(URL, 503)
    await webhooks.ping(ctx, receiver.id)
    first = clock.now()
    assert (await deliver()).failed == 1
    [delivery] = await log(ctx, receiver.id)
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == (DeliveryStatus.PENDING, 1, 503)
    assert first + timedelta(seconds=4.5) <= delivery.next_attempt_at <= first + timedelta(seconds=5.5)
    assert (await webhooks.get(ctx, receiver.id)).failing_since == first

    assert (await deliver()).claimed == 0, "not before its next attempt is due"
    clock.set(delivery.next_attempt_at)
    assert (await deliver()).failed == 1
    [delivery] = await log(ctx, receiver.id)
    assert delivery.attempts == 2
    assert clock.now() + timedelta(minutes=4.5) <= delivery.next_attempt_at <= clock.now() + timedelta(minutes=5.5)

    sender.answer(URL, 204)
    clock.set(delivery.next_attempt_at)
    assert (await deliver()).succeeded == 1
    [delivery] = await log(ctx, receiver.id)
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.SUCCEEDED, 3)
    assert [entry["status_code"] for entry in delivery.log] == [503, 503, 204]
    assert len({request.headers["webhook-id"] for request in sender.sent}) == 1, "every attempt is the same message"
    assert (await webhooks.get(ctx, receiver.id)).failing_since is None, "a success ends the failing spell"


async def test_one_subjects_events_arrive_in_order(ctx: Context, clock: Any, sender: FakeSender, deliver: Any) -> None:
    receiver = await hook(ctx, "person.*")
    person = await people.create_person(ctx, "hr-1", PersonFields(display_name="Ada"))
    await people.update_person(ctx, person.id, {"title": "Engineer"})
    await people.update_person(ctx, person.id, {"title": "Lead"})
    other = await people.create_person(ctx, "hr-2", PersonFields(display_name="Bo"))
    sender.answer(URL, 500)

    assert (await deliver()).claimed == 2, "Ada's updates wait while her creation is pending; Bo's creation does not"
    sender.answer(URL, 200)
    creation = next(d for d in await log(ctx, receiver.id) if d.event_type == "person.created" and d.subject_id == person.id)
    clock.set(creation.next_attempt_at)
    while (await deliver()).claimed:
        pass
    ada = [body(r)["data"] for r in sender.sent if body(r)["data"]["subject"]["id"] == str(person.id)]
    assert [(d["type"], d["data"]["title"]) for d in ada] == [
        ("person.created", None), ("person.created", None), ("person.updated", "Engineer"), ("person.updated", "Lead"),
    ], "the failed attempt, its retry, then the updates, one at a time"
    assert other.id in {UUID(body(r)["data"]["subject"]["id"]) for r in sender.sent}


async def test_a_receiver_failing_for_five_days_is_disabled(
    ctx: Context, db: MemoryDatabase, tenant_id: UUID, clock: Any, sender: FakeSender, deliver: Any,
) -> None:
    receiver = await hook(ctx)
    sender.answer(URL, None, "connection refused")
    await webhooks.ping(ctx, receiver.id)
    await deliver()
    clock.advance(days=4, hours=23)
    await webhooks.ping(ctx, receiver.id)
    await deliver()
    assert (await webhooks.get(ctx, receiver.id)).active, "not yet five days"

    clock.advance(hours=1)
    await webhooks.ping(ctx, receiver.id)
    await deliver()
    disabled = await webhooks.get(ctx, receiver.id)
    assert (disabled.active, disabled.disabled_reason, disabled.version) == (False, "Every delivery failed for 5 days.", 2)
    [event] = [e for e in db.events(tenant_id) if e.type == "webhook.disabled"]
    assert (event.subject_id, event.details) == (receiver.id, {"reason": "Every delivery failed for 5 days."})

    sent = len(sender.sent)
    clock.advance(days=1)
    await people.create_person(ctx, "hr-1", PersonFields(display_name="Ada"))
    assert (await deliver()).claimed == 0 and len(sender.sent) == sent, "a disabled webhook gets nothing"

    enabled = await webhooks.update(ctx, receiver.id, {"active": True}, False)
    assert (enabled.active, enabled.disabled_reason, enabled.failing_since) == (True, None, None)


async def test_410_gone_disables_at_once(ctx: Context, sender: FakeSender, deliver: Any) -> None:
    receiver = await hook(ctx)
    sender.answer(URL, 410)
    await webhooks.ping(ctx, receiver.id)
    await deliver()
    gone = await webhooks.get(ctx, receiver.id)
    assert (gone.active, gone.disabled_reason) == (False, "The receiver answered 410 Gone.")
    notice, ping = await log(ctx, receiver.id)
    assert (ping.event_type, ping.status, ping.next_attempt_at) == ("webhook.ping", DeliveryStatus.FAILED, None), "not retried"
    assert (notice.event_type, notice.status) == ("webhook.disabled", DeliveryStatus.PENDING), "kept for when it is back"

    sender.answer(URL, 200)
    await webhooks.update(ctx, receiver.id, {"active": True}, False)
    await deliver()
    assert [body(r)["type"] for r in sender.sent] == ["webhook.ping", "webhook.disabled"]


async def test_a_delivery_out_of_retries_can_be_retried_by_hand(ctx: Context, clock: Any, sender: FakeSender, deliver: Any) -> None:
    receiver = await hook(ctx)
    sender.answer(URL, 500)
    await webhooks.ping(ctx, receiver.id)
    for _ in range(len(wh.RETRY_DELAYS) + 1):
        assert (await deliver()).claimed == 1
        [delivery] = await log(ctx, receiver.id)
        if delivery.next_attempt_at is not None:
            clock.set(delivery.next_attempt_at)
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.FAILED, 12)
    assert (await deliver()).claimed == 0
    assert (await webhooks.get(ctx, receiver.id)).active, "about three days of retries: short of the limit"

    sender.answer(URL, 200)
    retried = await webhooks.retry_delivery(ctx, receiver.id, delivery.id)
    assert (retried.status, retried.attempts, retried.next_attempt_at) == (DeliveryStatus.PENDING, 0, clock.now())
    assert (await deliver()).succeeded == 1
    [delivery] = await log(ctx, receiver.id)
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == (DeliveryStatus.SUCCEEDED, 1, 200)


async def test_a_retry_by_hand_while_an_attempt_is_in_flight_wins(ctx: Context, sender: FakeSender, deliver: Any) -> None:
    receiver = await hook(ctx)
    await webhooks.ping(ctx, receiver.id)
    [pending] = await log(ctx, receiver.id)

    async def retry_meanwhile(request: SentRequest) -> None:
        sender.while_sending = None
        await webhooks.retry_delivery(ctx, receiver.id, pending.id)

    sender.answer(URL, 500)
    sender.while_sending = retry_meanwhile
    await deliver()
    [delivery] = await log(ctx, receiver.id)
    assert (delivery.status, delivery.attempts, delivery.log) == (DeliveryStatus.PENDING, 0, []), "the stale attempt is not written"


async def test_a_dead_worker_only_delays_a_delivery(ctx: Context, db: MemoryDatabase, clock: Any, sender: FakeSender, deliver: Any) -> None:
    receiver = await hook(ctx)
    await webhooks.ping(ctx, receiver.id)
    async with db.outbox_uow() as uow:  # a worker claims, then dies before it sends
        [claimed] = await uow.outbox.claim(clock.now(), 10, timedelta(minutes=2))
        await uow.commit()
    assert claimed.leased_until == clock.now() + timedelta(minutes=2)
    assert (await deliver()).claimed == 0, "leased to the dead worker"
    clock.advance(minutes=2)
    assert (await deliver()).succeeded == 1
    assert len(sender.sent) == 1


async def test_a_claim_that_is_not_committed_leases_nothing(ctx: Context, db: MemoryDatabase, clock: Any, deliver: Any) -> None:
    receiver = await hook(ctx)
    await webhooks.ping(ctx, receiver.id)
    async with db.outbox_uow() as uow:  # rolled back: no commit
        assert len(await uow.outbox.claim(clock.now(), 10, timedelta(minutes=2))) == 1
    assert (await deliver()).succeeded == 1


# -- the learning record store ----------------------------------------------------------


async def test_the_lrs_receives_each_lifecycle_event_as_an_xapi_statement(
    ctx: Context, seeded: Any, sender: FakeSender, deliver: Any,
) -> None:
    lrs, _ = await lrs_service.set_lrs(ctx, LrsFields(
        endpoint="https://lrs.example.com/xapi/", key="stint", secret="s3cret", home_page="https://hr.example.com",
    ), allow_private=False)
    standard = await hook(ctx, "assignment.*")
    await people.update_person(ctx, seeded.report.id, {"title": "Analyst"})  # no statement for this one
    offered = (await assignments.offer(ctx, assignments.Offer(brief_id=seeded.brief.id, assignee_id=seeded.report.id))).assignment
    await deliver()

    [put] = sender.to("https://lrs.example.com")
    statement = body(put)
    assert (put.method, put.url) == ("PUT", f"https://lrs.example.com/xapi/statements?statementId={statement['id']}")
    assert put.headers["authorization"] == "Basic " + base64.b64encode(b"stint:s3cret").decode()
    assert put.headers["x-experience-api-version"] == xapi.XAPI_VERSION
    assert statement["actor"] == {
        "objectType": "Agent", "name": "Raj Report", "account": {"homePage": "https://hr.example.com", "name": "hr-2"},
    }
    assert statement["verb"]["id"] == xapi.ADL + "registered"
    assert statement["object"]["definition"]["name"] == {"en-US": "Speed up the Q4 report"}
    assert statement["context"]["registration"] == str(xapi.registration(offered.id))
    assert statement["context"]["contextActivities"]["category"][0]["definition"]["name"] == {"en-US": "SQL tuning"}

    pulled = await statements.statements(ctx, xapi.StatementQuery(limit=10))
    assert pulled.statements == [put.body.decode()], "what the LRS is sent is, byte for byte, what it would pull"
    assert [w.id for w in (await webhooks.list_(ctx, PageRequest())).items] == [standard.id], "the LRS is not a webhook"
    assert (await lrs_service.get_lrs(ctx))[0].id == lrs.id


async def test_the_lrs_may_identify_learners_by_email(ctx: Context, seeded: Any, sender: FakeSender, deliver: Any) -> None:
    await people.update_person(ctx, seeded.report.id, {"email": "raj@example.com"})
    await lrs_service.set_lrs(ctx, LrsFields(
        endpoint="https://lrs.example.com/xapi", key="k", secret="s", home_page="https://hr.example.com", use_mbox=True,
    ), allow_private=False)
    await assignments.offer(ctx, assignments.Offer(brief_id=seeded.brief.id, assignee_id=seeded.report.id))
    await deliver()
    [put] = sender.sent
    assert body(put)["actor"] == {"objectType": "Agent", "name": "Raj Report", "mbox": "mailto:raj@example.com"}


# -- events from the sweeper --------------------------------------------------------------


async def test_an_offer_the_sweeper_expires_is_delivered(ctx: Context, db: MemoryDatabase, clock: Any, seeded: Any,
                                                         sender: FakeSender, deliver: Any) -> None:
    await hook(ctx, "assignment.expired")
    offered = (await assignments.offer(ctx, assignments.Offer(brief_id=seeded.brief.id, assignee_id=seeded.report.id))).assignment
    clock.set(offered.offer_expires_at)
    report = await sweeper.tick(db.sweep_uow, clock, Uuid7Ids(), ReminderPolicy(), batch_size=10)
    assert report.transitioned == 1
    await deliver()
    [request] = sender.sent
    assert (body(request)["type"], body(request)["data"]["data"]["state"]) == ("assignment.expired", "expired")
    assert (await sweeper.tick(db.sweep_uow, clock, Uuid7Ids(), ReminderPolicy(), batch_size=10)).claimed == 0, "once"
