"""Webhooks: signed per Standard Webhooks, delivered from the outbox at least once, retried, in order."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from standardwebhooks.webhooks import Webhook as Verifier
from standardwebhooks.webhooks import WebhookVerificationError

from app.domain.webhooks import RETRY_DELAYS
from app.repositories.clock import Uuid7Ids
from app.repositories.sql.database import Database
from app.services.webhooks import deliver_due
from app.workers.sender import HttpSender
from tests.support import Api, problem


@dataclass
class Receiver:
    """A loopback receiver (an httpx mock transport) checking every request with the standardwebhooks library.

    `strict` runs the library's full verify, which also wants the timestamp within 5 minutes of the real
    clock; tests that move a fake clock by days check the signature with the library's own signer instead.
    """

    secret: str = ""
    answers: list[int] = field(default_factory=list)
    """Status codes to answer with, in turn; 204 once they run out."""
    received: list[dict[str, Any]] = field(default_factory=list)
    rejected: int = 0
    """Requests whose signature did not verify (answered 401)."""
    strict: bool = False

    def __call__(self, request: httpx.Request) -> httpx.Response:
        verifier, headers = Verifier(self.secret), request.headers
        try:
            if self.strict:
                payload = verifier.verify(request.content, dict(headers))
            else:
                sent_at = datetime.fromtimestamp(int(headers["webhook-timestamp"]), UTC)
                expected = verifier.sign(headers["webhook-id"], sent_at, request.content.decode())
                if expected not in headers["webhook-signature"].split(" "):
                    raise WebhookVerificationError("No matching signature found")
                payload = json.loads(request.content)
        except WebhookVerificationError:
            self.rejected += 1
            return httpx.Response(401, text="bad signature")
        self.received.append({"id": headers["webhook-id"], "payload": payload})
        return httpx.Response(self.answers.pop(0) if self.answers else 204, text="ok")


@pytest.fixture(autouse=True)
async def quiet_outbox(database: Database) -> None:
    """The delivery worker serves every tenant; settle what earlier tests left queued so counts here are ours."""
    async with database.engine.begin() as conn:
        await conn.execute(text("UPDATE webhook_deliveries SET status = 'failed' WHERE status = 'pending'"))


async def make_hook(api: Api, receiver: Receiver, **fields: Any) -> dict[str, Any]:
    hook = await api.created("/v1/webhooks", {"url": "https://crm.example.com/hooks", "event_types": ["assignment.*"]} | fields)
    receiver.secret = hook["secret"]
    return hook


async def deliver(api: Api, database: Database, receiver: Receiver) -> Any:
    sender = HttpSender(httpx.AsyncClient(transport=httpx.MockTransport(receiver)), allow_private=True)
    return await deliver_due(database.outbox_uow, sender, api.clock, Uuid7Ids(), random.Random(7), batch_size=100)


async def test_a_receiver_verifies_the_signature_and_gets_the_event(api: Api, database: Database) -> None:
    api.clock.set(datetime.now(UTC))  # the library checks the timestamp against the real clock
    receiver = Receiver(strict=True)
    hook = await make_hook(api, receiver)
    assert hook["secret"].startswith("whsec_")
    assert "secret" not in (await api.get(f"/v1/webhooks/{hook['id']}")).json(), "the secret is shown once"
    assignment = await api.offered()
    report = await deliver(api, database, receiver)
    assert (report.claimed, report.succeeded) == (1, 1)
    payload = receiver.received[0]["payload"]
    assert payload["type"] == "assignment.offered"
    assert payload["data"]["subject"] == {"type": "assignment", "id": assignment["id"]}
    assert payload["data"]["data"]["state"] == "offered"
    deliveries = (await api.get(f"/v1/webhooks/{hook['id']}/deliveries")).json()["items"]
    assert [(d["status"], d["attempts"], d["last_status_code"]) for d in deliveries] == [("succeeded", 1, 204)]
    assert (await deliver(api, database, receiver)).claimed == 0, "delivered once"


async def test_failures_retry_on_the_schedule_with_the_same_message_id(api: Api, database: Database) -> None:
    receiver = Receiver(answers=[500, 503])
    hook = await make_hook(api, receiver)
    await api.offered()
    await deliver(api, database, receiver)
    assert (await deliver(api, database, receiver)).claimed == 0, "not before the first retry delay"
    api.clock.advance(seconds=RETRY_DELAYS[0].total_seconds() * 1.1)
    await deliver(api, database, receiver)
    api.clock.advance(seconds=RETRY_DELAYS[1].total_seconds() * 1.1)
    await deliver(api, database, receiver)
    assert len(receiver.received) == 3 and len({r["id"] for r in receiver.received}) == 1
    delivery = (await api.get(f"/v1/webhooks/{hook['id']}/deliveries")).json()["items"][0]
    assert (delivery["status"], delivery["attempts"]) == ("succeeded", 3)
    assert [entry["status_code"] for entry in delivery["log"]] == [500, 503, 204]


async def test_an_exhausted_delivery_fails_and_can_be_retried_by_hand(api: Api, database: Database) -> None:
    receiver = Receiver(answers=[500] * (len(RETRY_DELAYS) + 1))
    hook = await make_hook(api, receiver)
    await api.offered()
    for delay in (timedelta(0), *RETRY_DELAYS):
        api.clock.advance(seconds=delay.total_seconds() * 1.1)
        await deliver(api, database, receiver)
    delivery = (await api.get(f"/v1/webhooks/{hook['id']}/deliveries")).json()["items"][0]
    assert (delivery["status"], delivery["attempts"]) == ("failed", len(RETRY_DELAYS) + 1)
    assert (await api.get(f"/v1/webhooks/{hook['id']}")).json()["active"] is True, "under 5 days of failures"
    retried = (await api.post(f"/v1/webhooks/{hook['id']}/deliveries/{delivery['id']}/retry")).json()
    assert retried["status"] == "pending"
    await deliver(api, database, receiver)
    assert (await api.get(f"/v1/webhooks/{hook['id']}/deliveries")).json()["items"][0]["status"] == "succeeded"


async def test_410_disables_the_endpoint_and_says_so_in_the_feed(api: Api, database: Database) -> None:
    receiver = Receiver(answers=[410])
    hook = await make_hook(api, receiver)
    await api.offered()
    await deliver(api, database, receiver)
    stored = (await api.get(f"/v1/webhooks/{hook['id']}")).json()
    assert stored["active"] is False and "410" in stored["disabled_reason"]
    feed = (await api.get("/v1/events", params={"type": "webhook.*"})).json()["items"]
    assert [(e["type"], e["subject"]["id"]) for e in feed] == [("webhook.disabled", hook["id"])]
    assert "secret" not in json.dumps(feed[0]["data"])
    await api.offered()
    assert (await deliver(api, database, receiver)).claimed == 0, "a disabled endpoint gets nothing"


async def test_five_days_of_failures_disable_the_endpoint(api: Api, database: Database) -> None:
    receiver = Receiver(answers=[500] * 50)
    hook = await make_hook(api, receiver)
    for _ in range(6):
        await api.offered()
        await deliver(api, database, receiver)
        api.clock.advance(days=1)
    stored = (await api.get(f"/v1/webhooks/{hook['id']}")).json()
    assert stored["active"] is False and "5 days" in stored["disabled_reason"]
    reenabled = (await api.patch(f"/v1/webhooks/{hook['id']}", {"active": True})).json()
    assert (reenabled["active"], reenabled["disabled_reason"]) == (True, None)


async def test_one_subjects_deliveries_keep_their_order(api: Api, database: Database) -> None:
    receiver = Receiver(answers=[500])
    await make_hook(api, receiver)
    assignment = await api.offered()
    await api.act(assignment["id"], "accept")
    await deliver(api, database, receiver)
    assert [r["payload"]["type"] for r in receiver.received] == ["assignment.offered"], "accepted waits for offered"
    api.clock.advance(seconds=10)
    await deliver(api, database, receiver)
    await deliver(api, database, receiver)
    assert [r["payload"]["type"] for r in receiver.received] == ["assignment.offered", "assignment.offered", "assignment.accepted"]


async def test_a_delivery_survives_a_worker_killed_mid_delivery(api: Api, database: Database) -> None:
    receiver = Receiver()
    await make_hook(api, receiver)
    await api.offered()
    async with database.outbox_uow() as uow:  # a worker claims, then dies before sending or recording
        claimed = await uow.outbox.claim(api.clock.now(), 100, timedelta(minutes=2))
        await uow.commit()
    assert len(claimed) == 1
    assert (await deliver(api, database, receiver)).claimed == 0, "leased to the dead worker"
    api.clock.advance(minutes=3)
    assert (await deliver(api, database, receiver)).succeeded == 1


async def test_rotation_signs_with_both_secrets_for_a_day(api: Api, database: Database) -> None:
    receiver = Receiver()
    hook = await make_hook(api, receiver)
    rotated = (await api.post(f"/v1/webhooks/{hook['id']}/rotate-secret")).json()
    assert rotated["secret"] != hook["secret"] and rotated["previous_secret_expires_at"]
    await api.post(f"/v1/webhooks/{hook['id']}/ping")
    receiver.secret = hook["secret"]  # a receiver not yet switched over still verifies
    await deliver(api, database, receiver)
    assert receiver.received[-1]["payload"]["type"] == "webhook.ping"
    api.clock.advance(hours=25)
    await api.post(f"/v1/webhooks/{hook['id']}/ping")
    await deliver(api, database, receiver)
    assert receiver.rejected == 1, "a day later the old secret no longer signs"
    receiver.secret = rotated["secret"]
    api.clock.advance(seconds=RETRY_DELAYS[0].total_seconds() * 1.1)
    await deliver(api, database, receiver)
    assert receiver.received[-1]["payload"]["type"] == "webhook.ping"


async def test_a_failed_transition_queues_nothing(api: Api, database: Database) -> None:
    receiver = Receiver()
    await make_hook(api, receiver)
    assignment = await api.offered()
    await deliver(api, database, receiver)
    problem(await api.post(f"/v1/assignments/{assignment['id']}/submissions", {"body": "x"}), 409)
    assert (await deliver(api, database, receiver)).claimed == 0


async def test_urls_must_be_public_https(api: Api) -> None:
    problem(await api.post("/v1/webhooks", {"url": "http://crm.example.com/hooks"}), 422, "webhook.invalid_url")
    for url in ("https://127.0.0.1/hooks", "https://10.1.2.3/x", "https://[::1]/x", "https://169.254.169.254/latest", "https://localhost/x"):
        problem(await api.post("/v1/webhooks", {"url": url}), 422, "webhook.private_url")
    problem(await api.post("/v1/webhooks", {"url": "https://crm.example.com", "event_types": ["assignment.exploded"]}), 422, "webhook.unknown_event_type")


async def test_the_sender_refuses_to_reach_private_addresses() -> None:
    reached: list[str] = []
    sender = HttpSender(httpx.AsyncClient(transport=httpx.MockTransport(lambda r: reached.append(str(r.url)) or httpx.Response(200))))
    result = await sender.send("https://127.0.0.1:9/hook", {}, b"{}")
    assert result.status_code is None and "non-public" in (result.error or "") and reached == []


async def test_an_admins_change_during_a_delivery_is_not_undone(api: Api, database: Database) -> None:
    """Found in review: the worker wrote back the whole webhook it had claimed, reverting a rotation made meanwhile."""
    hook = await make_hook(api, Receiver())
    await api.offered()

    async def rotate_then_fail(request: httpx.Request) -> httpx.Response:
        await api.post(f"/v1/webhooks/{hook['id']}/rotate-secret")
        return httpx.Response(500)

    sender = HttpSender(httpx.AsyncClient(transport=httpx.MockTransport(rotate_then_fail)), allow_private=True)
    await deliver_due(database.outbox_uow, sender, api.clock, Uuid7Ids(), random.Random(3), batch_size=10)
    stored = (await api.get(f"/v1/webhooks/{hook['id']}")).json()
    assert stored["version"] == hook["version"] + 1 and stored["previous_secret_expires_at"] is not None
    delivery = (await api.get(f"/v1/webhooks/{hook['id']}/deliveries")).json()["items"][0]
    assert (delivery["attempts"], delivery["last_status_code"]) == (1, 500)


async def test_a_disabled_lrs_never_blocks_other_deliveries(api: Api, database: Database) -> None:
    """Found in review: the webhook.disabled event about an LRS broke the whole batch, for every tenant."""
    await api.put("/v1/tenant/lrs", {"endpoint": "https://lrs.example.com/xapi", "key": "k", "secret": "s", "home_page": "https://hr.example.com"})
    receiver = Receiver()
    hook = await make_hook(api, receiver)

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(410) if request.url.host == "lrs.example.com" else receiver(request)

    sender = HttpSender(httpx.AsyncClient(transport=httpx.MockTransport(answer)), allow_private=True)
    await api.offered()
    await deliver_due(database.outbox_uow, sender, api.clock, Uuid7Ids(), random.Random(3), batch_size=50)
    assert (await api.get("/v1/tenant/lrs")).json()["active"] is False
    await deliver_due(database.outbox_uow, sender, api.clock, Uuid7Ids(), random.Random(3), batch_size=50)
    assert [r["payload"]["type"] for r in receiver.received] == ["assignment.offered"]
    assert (await api.get(f"/v1/webhooks/{hook['id']}/deliveries")).json()["items"][0]["status"] == "succeeded"
