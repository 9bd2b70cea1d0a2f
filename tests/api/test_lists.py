"""Cursor pagination and filters."""

from __future__ import annotations

from datetime import timedelta

from tests.support import Api, iso


async def test_cursor_pages_cover_everything_once_and_link_to_the_next(api: Api) -> None:
    created = [(await api.person())["id"] for _ in range(7)]
    seen: list[str] = []
    url, params = "/v1/people", {"limit": 3}
    while True:
        response = await api.get(url, params=params)
        body = response.json()
        seen += [p["id"] for p in body["items"]]
        if body["next_cursor"] is None:
            assert "link" not in response.headers
            break
        assert response.headers["link"].endswith('>; rel="next"') and body["next_cursor"] in response.headers["link"]
        params = {"limit": 3, "cursor": body["next_cursor"]}
    assert seen == created


async def test_cursor_is_stable_under_inserts(api: Api) -> None:
    first = [(await api.person())["id"] for _ in range(4)]
    page1 = (await api.get("/v1/people", params={"limit": 2})).json()
    later = (await api.person())["id"]
    page2 = (await api.get("/v1/people", params={"limit": 10, "cursor": page1["next_cursor"]})).json()
    assert [p["id"] for p in page2["items"]] == first[2:] + [later]


async def test_assignment_filters(api: Api) -> None:
    manager, alice = await api.team()
    bob = await api.person(manager_id=manager["id"])
    brief = await api.brief()
    a1 = await api.offered(brief_id=brief["id"], assignee_id=alice["id"], external_ref="ext-1")
    a2 = await api.offered(brief_id=brief["id"], assignee_id=bob["id"])
    await api.act(a2["id"], "accept")
    a3 = await api.offered(assignee_id=bob["id"])

    async def ids(**params: object) -> list[str]:
        response = await api.get("/v1/assignments", params=params)
        assert response.status_code == 200, response.text
        return [a["id"] for a in response.json()["items"]]

    assert await ids(assignee_id=bob["id"]) == [a2["id"], a3["id"]]
    assert await ids(assignee_id=[alice["id"], bob["id"]], state="offered") == [a1["id"], a3["id"]]
    assert await ids(state=["accepted", "offered"], brief_id=brief["id"]) == [a1["id"], a2["id"]]
    assert await ids(reviewer_id=manager["id"], skill_id=brief["skill_id"]) == [a1["id"], a2["id"]]
    assert await ids(external_ref="ext-1") == [a1["id"]]
    assert await ids(due_before=iso(api.clock.now() + timedelta(hours=4))) == [a2["id"]]
    assert await ids(due_before=iso(api.clock.now() + timedelta(hours=2))) == []
    api.clock.advance(hours=5)
    assert await ids(state="timed_out", brief_id=brief["id"]) == [a2["id"]]
    assert await ids(state="accepted", brief_id=brief["id"]) == []
