"""The event feed: every event once, gap-free, one subject's in order, even under concurrent writers."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from uuid import UUID

import pytest
from sqlalchemy import func, select
from uuid_utils.compat import uuid7

from app.domain.actors import ActorRef, ActorType
from app.domain.events import Event
from app.repositories.sql import tables as t
from app.repositories.sql.database import Database
from app.repositories.sql.events import store_events
from app.repositories.sql.webhooks import bump_webhooks_version, lock_webhook_set
from tests.support import Api, problem


async def test_the_feed_resumes_from_a_stored_cursor(api: Api) -> None:
    assignment = await api.offered()
    await api.act(assignment["id"], "accept")
    first = (await api.get("/v1/events", params={"limit": 3})).json()
    assert first["has_more"] is True and len(first["items"]) == 3
    rest = (await api.get("/v1/events", params={"after": first["next_cursor"], "limit": 200})).json()
    types = [e["type"] for e in first["items"] + rest["items"]]
    assert types[-2:] == ["assignment.offered", "assignment.accepted"]
    assert rest["has_more"] is False
    idle = (await api.get("/v1/events", params={"after": rest["next_cursor"]})).json()
    assert idle == {"items": [], "next_cursor": rest["next_cursor"], "has_more": False}, "a caught-up poller keeps its place"
    await api.act(assignment["id"], "submissions", {"body": "done"}, expect=201)
    new = (await api.get("/v1/events", params={"after": rest["next_cursor"]})).json()
    assert [e["type"] for e in new["items"]] == ["assignment.submitted"]


async def test_feed_filters(api: Api) -> None:
    one, two = await api.offered(), await api.offered()
    await api.act(one["id"], "accept")
    families = (await api.get("/v1/events", params={"type": "assignment.*", "limit": 200})).json()["items"]
    assert [e["type"] for e in families] == ["assignment.offered", "assignment.offered", "assignment.accepted"]
    exact = (await api.get("/v1/events", params={"type": ["person.created", "brief.published"], "limit": 200})).json()["items"]
    assert {e["type"] for e in exact} == {"person.created", "brief.published"}
    subject = (await api.get("/v1/events", params={"subject_id": two["id"]})).json()["items"]
    assert [(e["type"], e["subject"]["id"]) for e in subject] == [("assignment.offered", two["id"])]
    problem(await api.get("/v1/events", params={"after": "bm90LWEtc2Vx"}), 400, "invalid_cursor")
    problem(await api.get("/v1/events", params={"type": "DROP TABLE"}), 422)


async def test_concurrent_writers_never_make_a_poller_miss_or_repeat_an_event(api: Api) -> None:
    brief = await api.brief()
    _, report = await api.team()
    offers = [await api.offered(brief_id=brief["id"], assignee_id=report["id"]) for _ in range(12)]
    start = (await api.get("/v1/events", params={"limit": 200})).json()
    while start["has_more"]:
        start = (await api.get("/v1/events", params={"after": start["next_cursor"], "limit": 200})).json()

    seen: list[dict] = []
    done = asyncio.Event()

    async def poll() -> None:
        cursor = start["next_cursor"]
        while True:
            finished = done.is_set()
            page = (await api.get("/v1/events", params={"after": cursor, "limit": 5})).json()
            seen.extend(page["items"])
            cursor = page["next_cursor"]
            if finished and not page["has_more"]:
                return
            await asyncio.sleep(0)

    async def work(assignment: dict) -> None:
        await api.act(assignment["id"], "accept")
        await api.act(assignment["id"], "submissions", {"body": "x"}, expect=201)

    poller = asyncio.create_task(poll())
    await asyncio.gather(*(work(a) for a in offers))
    done.set()
    await poller
    ids = [e["id"] for e in seen]
    assert len(ids) == len(set(ids)) == 24, "every new event once"
    for assignment in offers:
        mine = [e["type"] for e in seen if e["subject"]["id"] == assignment["id"]]
        assert mine == ["assignment.accepted", "assignment.submitted"]


async def test_the_feed_also_takes_cursor(api: Api) -> None:
    """A newcomer used `cursor`, as the other lists call it, and got page one forever."""
    await api.offered()
    first = (await api.get("/v1/events", params={"limit": 1})).json()
    second = (await api.get("/v1/events", params={"cursor": first["next_cursor"], "limit": 1})).json()
    assert second["items"][0]["id"] != first["items"][0]["id"]
    problem(await api.get("/v1/events", params={"cursor": first["next_cursor"], "after": second["next_cursor"]}), 400, "invalid_cursor")


async def _caught_up(api: Api) -> str:
    page = (await api.get("/v1/events", params={"limit": 200})).json()
    while page["has_more"]:
        page = (await api.get("/v1/events", params={"after": page["next_cursor"], "limit": 200})).json()
    return page["next_cursor"]


async def _tenant_id(api: Api) -> UUID:
    async with api.engine.connect() as conn:
        return (await conn.execute(select(t.tenants.c.id).where(t.tenants.c.slug == api.tenant_slug))).scalar_one()


def _event(tenant_id: UUID, subject_id: UUID) -> Event:
    return Event(
        id=uuid7(), tenant_id=tenant_id, type="person.updated", occurred_at=datetime.now(UTC),
        actor=ActorRef(ActorType.SYSTEM, None), subject_type="person", subject_id=subject_id, data={"id": str(subject_id)},
    )


async def test_a_writer_still_in_its_transaction_holds_back_neither_other_writers_nor_the_feed(api: Api) -> None:
    """PostgreSQL writers used to take the tenant's counter row until COMMIT, so one slow transaction stopped
    every other write of the tenant. Now they wait for nobody, and the feed shows each change once it commits."""
    if api.engine.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer at a time: its writers take turns by design")
    assignment = await api.offered()
    cursor = await _caught_up(api)
    tenant_id = await _tenant_id(api)
    slow = _event(tenant_id, uuid7())
    async with api.engine.connect() as conn:
        async with conn.begin():
            await store_events(conn, [slow])  # stored, not committed
            await asyncio.wait_for(api.act(assignment["id"], "accept"), timeout=10)
            page = (await api.get("/v1/events", params={"after": cursor})).json()
            assert [e["type"] for e in page["items"]] == ["assignment.accepted"], "a committed change is in the feed at once"
            cursor = page["next_cursor"]
        # committed now
    page = (await api.get("/v1/events", params={"after": cursor})).json()
    assert [e["id"] for e in page["items"]] == [str(slow.id)], "the slow change comes after, once"
    assert (await api.get("/v1/events", params={"after": page["next_cursor"]})).json()["items"] == []


async def test_the_worker_numbers_events_that_no_poll_has_asked_for(api: Api, database: Database) -> None:
    assignment = await api.offered()
    cursor = await _caught_up(api)
    await api.act(assignment["id"], "accept")
    await api.act(assignment["id"], "submissions", {"body": "done"}, expect=201)
    await database.maintenance.number_waiting_events()
    tenant_id = await _tenant_id(api)
    async with api.engine.connect() as conn:
        e = t.events.c
        waiting = (await conn.execute(select(func.count()).where(e.tenant_id == tenant_id, e.seq.is_(None)))).scalar_one()
        seqs = (await conn.execute(select(e.seq).where(e.tenant_id == tenant_id).order_by(e.seq))).scalars().all()
    assert waiting == 0
    assert seqs == list(range(1, len(seqs) + 1)), "gap-free"
    page = (await api.get("/v1/events", params={"after": cursor})).json()
    assert [e["type"] for e in page["items"]] == ["assignment.accepted", "assignment.submitted"]


async def test_a_webhook_change_goes_through_while_a_tenants_writes_keep_overlapping(api: Api) -> None:
    """Found in review: with event writers share-locking the counter row, a webhook change (create, update,
    delete, the worker disabling one) waited for a moment with no writer in flight: under steady load, until
    its statement timed out. Writers now share a heavyweight lock, which queues fairly."""
    if api.engine.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer at a time")
    tenant_id = await _tenant_id(api)
    stop = asyncio.Event()

    async def writer(offset: float) -> None:
        await asyncio.sleep(offset)
        while not stop.is_set():
            async with api.engine.connect() as conn:
                async with conn.begin():
                    await store_events(conn, [_event(tenant_id, uuid7())])
                    await asyncio.sleep(0.06)  # a transaction that takes 60 ms to finish

    writers = [asyncio.create_task(writer(i * 0.01)) for i in range(8)]  # eight at a time, overlapping
    await asyncio.sleep(0.2)

    async def change() -> None:  # what every webhook change does: the webhook set's lock first, then the bump
        async with api.engine.begin() as conn:
            await lock_webhook_set(conn, tenant_id)
            await bump_webhooks_version(conn, tenant_id)

    changed = asyncio.create_task(change())
    try:
        await asyncio.wait_for(asyncio.shield(changed), 2.0)  # far longer than the writers it must wait for
        done_while_writing = True
    except TimeoutError:
        done_while_writing = False
    stop.set()
    await asyncio.gather(*writers)
    await changed
    assert done_while_writing, "the webhook change waited as long as writers kept overlapping"
