"""Idempotency-Key on POST: a retried script never creates twice."""

from __future__ import annotations

import asyncio
from uuid import uuid4

from app.repositories.sql.database import Database
from tests.support import Api, problem


def keyed(key: str) -> dict[str, str]:
    return {"Idempotency-Key": key}


async def test_the_same_key_and_body_replays_the_first_answer(api: Api) -> None:
    body = {"external_id": f"hr-{uuid4().hex[:8]}", "display_name": "Ana"}
    first = await api.post("/v1/people", body, headers=keyed("import-7-row-1"))
    again = await api.post("/v1/people", body, headers=keyed("import-7-row-1"))
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again.headers["idempotent-replayed"] == "true"
    assert again.headers["location"] == first.headers["location"]
    assert "idempotent-replayed" not in first.headers
    people = (await api.get("/v1/people", params={"limit": 200})).json()["items"]
    assert [p["external_id"] for p in people].count(body["external_id"]) == 1


async def test_a_refusal_is_replayed_too(api: Api) -> None:
    assignment = await api.offered()
    first = await api.post(f"/v1/assignments/{assignment['id']}/submissions", {"body": "x"}, headers=keyed("k-409"))
    again = await api.post(f"/v1/assignments/{assignment['id']}/submissions", {"body": "x"}, headers=keyed("k-409"))
    assert first.status_code == again.status_code == 409 and again.headers["idempotent-replayed"] == "true"


async def test_the_same_key_with_another_body_is_422(api: Api) -> None:
    await api.post("/v1/people", {"external_id": "a1", "display_name": "A"}, headers=keyed("dup"))
    problem(await api.post("/v1/people", {"external_id": "a2", "display_name": "A"}, headers=keyed("dup")), 422, "idempotency.key_reused")
    problem(await api.post("/v1/people", {"external_id": "a3", "display_name": "A"}, headers=keyed("has space")), 400, "idempotency.invalid_key")


async def test_keys_belong_to_one_caller(api: Api) -> None:
    other = await api.make_key(["people:write"])
    mine = await api.post("/v1/people", {"external_id": "c1", "display_name": "C"}, headers=keyed("shared"))
    theirs = await api.client.post("/v1/people", json={"external_id": "c2", "display_name": "C"},
                                   headers=keyed("shared") | {"Authorization": f"Bearer {other}"})
    assert (mine.status_code, theirs.status_code) == (201, 201) and "idempotent-replayed" not in theirs.headers


async def test_keys_last_24_hours_and_are_purged(api: Api, database: Database) -> None:
    body = {"external_id": "d1", "display_name": "D"}
    assert (await api.post("/v1/people", body, headers=keyed("daily"))).status_code == 201
    api.clock.advance(hours=25)
    problem(await api.post("/v1/people", body, headers=keyed("daily")), 409, "person.external_id_taken")  # processed afresh
    api.clock.advance(hours=25)
    assert await database.idempotency.purge_idempotency_keys(api.clock.now()) >= 1


async def test_fifty_concurrent_requests_with_one_key_create_one_resource(api: Api) -> None:
    brief = await api.brief()
    _, report = await api.team()
    body = {"brief_id": brief["id"], "assignee_id": report["id"]}
    responses = await asyncio.gather(*(api.post("/v1/assignments", body, headers=keyed("offer-round-3")) for _ in range(50)))
    created = {r.json()["id"] for r in responses if r.status_code == 201}
    assert len(created) == 1
    assert all(r.status_code in (201, 409) for r in responses)
    assert all(r.json()["code"] == "idempotency.in_flight" for r in responses if r.status_code == 409)
    mine = (await api.get("/v1/assignments", params={"assignee_id": report["id"]})).json()["items"]
    assert [a["id"] for a in mine] == list(created)
