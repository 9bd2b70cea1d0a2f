"""Compare-and-set under real concurrency: racing requests give one success."""

from __future__ import annotations

import asyncio

from tests.support import Api


async def test_twenty_concurrent_accepts_give_one_success_and_one_event(api: Api) -> None:
    assignment = await api.offered()
    url = f"/v1/assignments/{assignment['id']}/accept"
    responses = await asyncio.gather(*(api.post(url) for _ in range(20)))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] + [409] * 19, [r.text for r in responses if r.status_code not in (200, 409)]
    for response in responses:
        if response.status_code == 409:
            assert response.json()["code"] in {"assignment.invalid_transition", "conflict.concurrent_update"}
    events = [e["type"] for e in await api.events(assignment["id"])]
    assert events == ["assignment.offered", "assignment.accepted"]
    assert (await api.assignment(assignment["id"]))["version"] == assignment["version"] + 1


async def test_racing_reviews_create_one_review_and_one_piece_of_evidence(api: Api) -> None:
    from tests.support import PASSING_SCORES

    assignment = await api.submitted()
    url = f"/v1/assignments/{assignment['id']}/reviews"
    responses = await asyncio.gather(*(api.post(url, {"outcome": "pass", "scores": PASSING_SCORES, "feedback": "ok"}) for _ in range(8)))
    assert sorted(r.status_code for r in responses) == [201] + [409] * 7
    assert len((await api.get(url)).json()["items"]) == 1
    profile = (await api.get(f"/v1/people/{assignment['assignee_id']}/skills")).json()
    assert len(profile["skills"][0]["evidence"]) == 1


async def test_concurrent_manager_changes_cannot_close_a_loop(api: Api) -> None:
    """Found in review: A -> B and B -> A at once each passed the cycle check on its own."""
    first, second = await api.person(), await api.person()
    responses = await asyncio.gather(
        api.patch(f"/v1/people/{first['id']}", {"manager_id": second["id"]}),
        api.patch(f"/v1/people/{second['id']}", {"manager_id": first["id"]}),
    )
    assert sorted(r.status_code for r in responses) == [200, 422]
    assert [r.json()["code"] for r in responses if r.status_code == 422] == ["person.manager_cycle"]
