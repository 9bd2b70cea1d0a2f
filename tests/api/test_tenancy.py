"""Nothing is ever visible across tenants: another tenant's ids are 404."""

from __future__ import annotations

from app.repositories.sql.database import Database
from tests.conftest import make_api, new_tenant
from tests.support import Api, PASSING_SCORES, problem


async def test_another_tenants_objects_are_invisible(api: Api, database: Database) -> None:
    assignment = await api.submitted()
    person_id = assignment["assignee_id"]
    brief = await api.get(f"/v1/briefs/{assignment['brief_id']}")
    async with make_api(database, await new_tenant(database)) as other:
        for url in (
            f"/v1/assignments/{assignment['id']}", f"/v1/people/{person_id}", f"/v1/briefs/{assignment['brief_id']}",
            f"/v1/skills/{assignment['skill_id']}", f"/v1/assignments/{assignment['id']}/events",
            f"/v1/people/{person_id}/skills",
        ):
            problem(await other.get(url), 404, "not_found")
        problem(await other.post(f"/v1/assignments/{assignment['id']}/reviews", {"outcome": "pass", "scores": PASSING_SCORES, "feedback": "x"}), 404)
        problem(await other.patch(f"/v1/people/{person_id}", {"display_name": "Hijacked"}), 404)
        offer = await other.post("/v1/assignments", {"brief_id": assignment["brief_id"], "assignee_id": person_id})
        problem(offer, 422, "assignment.unknown_brief")
        for url in ("/v1/people", "/v1/assignments", "/v1/briefs", "/v1/skills"):
            assert (await other.get(url)).json()["items"] == []
        colleague = await other.person()
        problem(await other.post("/v1/people", {"external_id": "x", "display_name": "X", "manager_id": person_id}), 422, "person.unknown_manager")
        assert colleague["id"] != person_id
    after = await api.assignment(assignment["id"])
    assert (after["state"], after["version"]) == ("submitted", assignment["version"])
    assert brief.json()["title"] == (await api.get(f"/v1/briefs/{assignment['brief_id']}")).json()["title"]
