"""The event feed: every event once, in commit order, gap-free, even under concurrent writers."""

from __future__ import annotations

import asyncio

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
