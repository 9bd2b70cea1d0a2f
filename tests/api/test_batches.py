"""Batch endpoints: many items per call, each standing or failing on its own, safe to send again."""

from __future__ import annotations

from typing import Any

from app.repositories.sql.database import Database
from tests.api.test_person_tokens import build_org
from tests.support import RUBRIC, Api, problem


async def batch(api: Api, path: str, items: list[Any], **kwargs: Any) -> dict[str, Any]:
    response = await api.post(f"/v1/{path}/batch", {"items": items}, **kwargs)
    assert response.status_code == 200, response.text
    body = response.json()
    assert [r["index"] for r in body["results"]] == list(range(len(items))), "one result per item, in request order"
    return body


def statuses(body: dict[str, Any]) -> list[str]:
    return [r["status"] for r in body["results"]]


async def people_by_external_id(api: Api) -> dict[str, dict[str, Any]]:
    found, cursor = {}, None
    while True:
        page = (await api.get("/v1/people", params={"limit": 200, **({"cursor": cursor} if cursor else {})})).json()
        found.update({p["external_id"]: p for p in page["items"]})
        if not (cursor := page["next_cursor"]):
            return found


async def test_people_batch_resolves_managers_in_any_order_and_reruns_unchanged(api: Api) -> None:
    items = [
        {"external_id": "wd-3", "display_name": "Pat", "manager_external_id": "wd-2"},
        {"external_id": "wd-2", "display_name": "Lee", "manager_external_id": "wd-1", "team": "Data"},
        {"external_id": "wd-1", "display_name": "Maria", "email": "maria@example.com"},
    ]
    first = await batch(api, "people", items)
    assert statuses(first) == ["created"] * 3
    assert first["counts"] == {"created": 3, "updated": 0, "unchanged": 0, "error": 0} and first["dry_run"] is False
    people = await people_by_external_id(api)
    assert people["wd-3"]["manager_id"] == people["wd-2"]["id"] and people["wd-2"]["manager_id"] == people["wd-1"]["id"]
    assert [r["id"] for r in first["results"]] == [people["wd-3"]["id"], people["wd-2"]["id"], people["wd-1"]["id"]]

    again = await batch(api, "people", items)
    assert statuses(again) == ["unchanged"] * 3
    assert [r["id"] for r in again["results"]] == [r["id"] for r in first["results"]]
    assert (await api.get(f"/v1/people/{people['wd-1']['id']}")).json()["version"] == 1

    changed = await batch(api, "people", [{"external_id": "wd-2", "title": "Lead"}, {"external_id": "wd-3", "display_name": "Pat"}])
    assert statuses(changed) == ["updated", "unchanged"]
    lee = (await api.get(f"/v1/people/{people['wd-2']['id']}")).json()
    assert (lee["title"], lee["team"], lee["manager_id"], lee["version"]) == ("Lead", "Data", people["wd-1"]["id"], 2), \
        "fields left out are kept"


async def test_people_batch_reports_each_bad_item_and_keeps_the_rest(api: Api) -> None:
    await batch(api, "people", [{"external_id": "top", "display_name": "Top"}, {"external_id": "mid", "display_name": "Mid", "manager_external_id": "top"}])
    body = await batch(api, "people", [
        {"external_id": "ok-1", "display_name": "Fine"},
        {"external_id": "bad-email", "display_name": "X", "email": "not-an-email"},
        {"external_id": "no-name"},
        {"external_id": "orphan", "display_name": "O", "manager_external_id": "nobody"},
        {"external_id": "top", "manager_external_id": "mid"},
        {"external_id": "ok-1", "display_name": "Twice"},
        "not an object",
        {"external_id": "typo", "display_name": "T", "titel": "x"},
        {"external_id": "child", "display_name": "C", "manager_external_id": "orphan"},
        {"external_id": "ok-2", "display_name": "Also fine", "manager_external_id": "ok-1"},
    ])
    assert statuses(body) == ["created", "error", "error", "error", "error", "error", "error", "error", "error", "created"]
    codes = [r["problem"]["code"] if r["problem"] else None for r in body["results"]]
    assert codes == [None, "validation_failed", "person.display_name_required", "person.unknown_manager", "person.manager_cycle",
                     "batch.duplicate_item", "validation_failed", "validation_failed", "person.unknown_manager", None]
    bad_email = body["results"][1]["problem"]
    assert bad_email["status"] == 422 and bad_email["errors"][0]["loc"] == ["email"] and bad_email["instance"] == "/v1/people/batch"
    assert body["results"][7]["problem"]["errors"][0]["loc"] == ["titel"]
    assert body["counts"] == {"created": 2, "updated": 0, "unchanged": 0, "error": 8}
    people = await people_by_external_id(api)
    assert set(people) == {"top", "mid", "ok-1", "ok-2"}
    assert people["top"]["manager_id"] is None, "the cycle was refused, nothing changed"
    assert people["ok-2"]["manager_id"] == people["ok-1"]["id"]


async def test_only_an_admin_may_make_admins_in_a_batch(api: Api) -> None:
    key = await api.make_key(["people:write"])
    response = await api.post("/v1/people/batch", {"items": [
        {"external_id": "a", "display_name": "A", "is_admin": True}, {"external_id": "b", "display_name": "B"},
    ]}, headers={"Authorization": f"Bearer {key}"})
    assert statuses(response.json()) == ["error", "created"]
    refused = response.json()["results"][0]["problem"]
    assert (refused["status"], refused["code"]) == (403, "forbidden.admin_only")
    reader = await api.make_key(["people:read"])
    problem(await api.post("/v1/people/batch", {"items": [{"external_id": "c", "display_name": "C"}]},
                           headers={"Authorization": f"Bearer {reader}"}), 403, "forbidden.missing_scope")
    assert set(await people_by_external_id(api)) == {"b"}


async def test_dry_run_checks_everything_and_writes_nothing(api: Api) -> None:
    body = await batch(api, "people", [{"external_id": "d1", "display_name": "D"}, {"external_id": "d2"}], params={"dry_run": "true"})
    assert statuses(body) == ["created", "error"] and body["dry_run"] is True
    assert body["results"][0]["id"] is None, "nothing was created, so there is no id to give"
    assert await people_by_external_id(api) == {}
    feed = (await api.get("/v1/events")).json()
    assert feed["items"] == [], "a dry run emits no events"


async def test_over_the_limit_is_413_before_anything_is_written(api: Api) -> None:
    items = [{"external_id": f"p-{i}", "display_name": "P"} for i in range(1001)]
    body = problem(await api.post("/v1/people/batch", {"items": items}), 413, "batch.too_many_items")
    assert "1000" in body["detail"]
    assert await people_by_external_id(api) == {}
    problem(await api.post("/v1/people/batch", {"items": {"external_id": "x"}}), 422, "validation_failed")
    problem(await api.post("/v1/people/batch", {"itemz": []}), 422, "validation_failed")


async def test_a_full_batch_of_1000_people_goes_in_with_an_event_each(api: Api) -> None:
    items = [{"external_id": f"emp-{i:04d}", "display_name": f"Person {i}",
              **({"manager_external_id": f"emp-{i // 10:04d}"} if i else {})} for i in range(1000)]
    body = await batch(api, "people", items[::-1])
    assert body["counts"]["created"] == 1000, [r for r in body["results"] if r["status"] == "error"][:3]
    people = await people_by_external_id(api)
    assert people["emp-0999"]["manager_id"] == people["emp-0099"]["id"]
    feed = (await api.get("/v1/events", params={"limit": 200, "types": "person.created"})).json()
    assert len(feed["items"]) == 200 and feed["next_cursor"]


async def test_skills_and_briefs_batches_upsert_by_key_and_publish(api: Api) -> None:
    levels = [{"level": 1, "name": "Basic"}, {"level": 2, "name": "Working"}]
    skills = await batch(api, "skills", [
        {"key": "sql.tuning", "name": "SQL tuning", "levels": levels},
        {"key": "esco.sql", "name": "SQL", "levels": levels, "description": "Queries", "framework": "esco", "framework_ref": "http://data.europa.eu/esco/skill/x"},
        {"key": "writing", "name": "Writing", "levels": [{"level": 1, "name": "A"}, {"level": 1, "name": "B"}]},
        {"key": "no-levels", "name": "X"},
    ])
    assert statuses(skills) == ["created", "created", "error", "error"]
    assert skills["results"][2]["problem"]["errors"][0]["loc"] == ["levels", 1, "level"]
    esco = (await api.get(f"/v1/skills/{skills['results'][1]['id']}")).json()
    assert (esco["description"], esco["framework"]) == ("Queries", "esco")
    assert statuses(await batch(api, "skills", [{"key": "sql.tuning", "name": "SQL tuning", "levels": levels[::-1]}])) == ["unchanged"]
    assert statuses(await batch(api, "skills", [{"key": "sql.tuning", "description": "Faster queries"}])) == ["updated"]

    brief = {"key": "weekly-report", "title": "Speed up the weekly report", "instructions": "Find the slow join.",
             "skill_key": "sql.tuning", "target_level": 2, "timebox": "PT3H", "rubric": RUBRIC, "publish": True}
    first = await batch(api, "briefs", [
        brief,
        {**brief, "key": "bad-level", "target_level": 7},
        {**brief, "key": "bad-skill", "skill_key": "nope"},
        {**brief, "key": "draft-only", "publish": False},
    ])
    assert statuses(first) == ["created", "error", "error", "created"]
    assert first["results"][1]["problem"]["errors"][0]["loc"] == ["target_level"]
    assert first["results"][2]["problem"]["code"] == "brief.unknown_skill"
    stored = (await api.get(f"/v1/briefs/{first['results'][0]['id']}")).json()
    assert (stored["key"], stored["status"], stored["published_revision"]) == ("weekly-report", "published", 1)
    draft = (await api.get(f"/v1/briefs/{first['results'][3]['id']}")).json()
    assert draft["status"] == "draft"

    assert statuses(await batch(api, "briefs", [brief])) == ["unchanged"], "the same brief again changes nothing"
    edited = await batch(api, "briefs", [{"key": "weekly-report", "timebox": "PT4H", "publish": True}, {"key": "draft-only", "publish": True}])
    assert statuses(edited) == ["updated", "updated"]
    stored = (await api.get(f"/v1/briefs/{first['results'][0]['id']}")).json()
    assert (stored["timebox"], stored["revision"], stored["published_revision"], stored["version"]) == ("PT4H", 2, 2, 2)
    assert (await api.get(f"/v1/briefs/{first['results'][3]['id']}")).json()["status"] == "published"


async def test_assignments_batch_offers_by_keys_and_never_twice(api: Api) -> None:
    await batch(api, "people", [
        {"external_id": "boss", "display_name": "Boss"},
        {"external_id": "ann", "display_name": "Ann", "manager_external_id": "boss"},
        {"external_id": "bob", "display_name": "Bob", "manager_external_id": "boss"},
        {"external_id": "loner", "display_name": "No manager"},
        {"external_id": "gone", "display_name": "Left", "manager_external_id": "boss", "active": False},
    ])
    brief = await api.brief()
    draft = await api.brief(publish=False)
    items = [
        {"brief_id": brief["id"], "assignee_external_id": "ann", "external_ref": "round-1:ann", "context_note": "For the Q1 report."},
        {"brief_id": brief["id"], "assignee_external_id": "bob", "external_ref": "round-1:bob"},
        {"brief_id": brief["id"], "assignee_external_id": "loner", "external_ref": "round-1:loner"},
        {"brief_id": brief["id"], "assignee_external_id": "gone"},
        {"brief_id": draft["id"], "assignee_external_id": "ann"},
        {"brief_id": brief["id"], "assignee_external_id": "bob", "external_ref": "round-1:bob"},
        {"brief_id": brief["id"], "assignee_external_id": "loner", "reviewer_external_id": "boss", "external_ref": "round-1:loner-2"},
        {"brief_id": brief["id"], "assignee_external_id": "ann", "reviewer_external_id": "ann"},
        {"brief_id": brief["id"]},
    ]
    first = await batch(api, "assignments", items)
    assert statuses(first) == ["created", "created", "error", "error", "error", "error", "created", "error", "error"]
    codes = [r["problem"]["code"] if r["problem"] else None for r in first["results"]]
    assert codes == [None, None, "assignment.reviewer_required", "assignment.unknown_assignee", "brief.not_published",
                     "batch.duplicate_item", None, "assignment.self_review", "validation_failed"]
    ann = await api.assignment(first["results"][0]["id"])
    people = await people_by_external_id(api)
    assert (ann["state"], ann["assignee_id"], ann["reviewer_id"], ann["context_note"]) == (
        "offered", people["ann"]["id"], people["boss"]["id"], "For the Q1 report.")
    events = await api.events(ann["id"])
    assert [e["type"] for e in events] == ["assignment.offered"]

    again = await batch(api, "assignments", [items[0], {**items[1], "assignee_external_id": "ann"}])
    assert statuses(again) == ["unchanged", "error"]
    assert again["results"][0]["id"] == ann["id"]
    assert again["results"][1]["problem"]["code"] == "assignment.external_ref_taken"
    listed = (await api.get("/v1/assignments", params={"limit": 200})).json()["items"]
    assert len(listed) == 3, "nothing was offered twice"


async def test_a_manager_offers_in_batch_only_to_people_below_them(api: Api, database: Database) -> None:
    org = await build_org(api, database)
    brief = await api.brief()
    response = await org.as_("boss", "POST", "/v1/assignments/batch", json={"items": [
        {"brief_id": brief["id"], "assignee_id": org.people["assignee"]["id"]},
        {"brief_id": brief["id"], "assignee_id": org.people["manager"]["id"]},
        {"brief_id": brief["id"], "assignee_id": org.people["colleague"]["id"], "reviewer_id": org.people["reviewer"]["id"]},
        {"brief_id": brief["id"], "assignee_id": org.people["boss"]["id"], "reviewer_id": org.people["reviewer"]["id"]},
    ]})
    assert response.status_code == 200, response.text
    body = response.json()
    assert statuses(body) == ["created", "created", "error", "error"]
    assert body["results"][2]["problem"]["code"] == "assignment.unknown_assignee", "someone the boss cannot see stays unknown"
    refused = body["results"][3]["problem"]
    assert (refused["status"], refused["code"]) == (403, "forbidden.not_manager")
    offered = await api.assignment(body["results"][0]["id"])
    assert offered["offered_by"]["type"] == "person" and offered["offered_by"]["id"] == org.people["boss"]["id"]
    problem(await org.as_("boss", "POST", "/v1/people/batch", json={"items": []}), 403, "forbidden.missing_scope")


async def test_a_large_offer_batch_reads_back_exactly_like_a_single_offer(api: Api) -> None:
    """Past 200 rows PostgreSQL takes them by COPY: what comes back must be what one offer writes."""
    await batch(api, "people", [{"external_id": "lead", "display_name": "Lead"}] +
                [{"external_id": f"r-{i}", "display_name": f"R {i}", "manager_external_id": "lead"} for i in range(250)])
    brief = await api.brief()
    body = await batch(api, "assignments", [{"brief_id": brief["id"], "assignee_external_id": f"r-{i}", "external_ref": f"big-{i}",
                                             "context_note": "Batch"} for i in range(250)])
    assert body["counts"]["created"] == 250
    single = await api.offered(brief_id=brief["id"], assignee_id=(await api.assignment(body["results"][0]["id"]))["assignee_id"],
                               context_note="Batch")
    batched = await api.assignment(body["results"][0]["id"])
    differs = {"id", "external_ref", "created_at", "updated_at", "offer_expires_at"}
    assert {k: v for k, v in batched.items() if k not in differs} == {k: v for k, v in single.items() if k not in differs}
    listed = (await api.get("/v1/assignments", params={"state": "offered", "limit": 200})).json()
    assert len(listed["items"]) == 200 and listed["next_cursor"]
    events = await api.events(batched["id"])
    assert [e["type"] for e in events] == ["assignment.offered"]


async def test_an_offer_already_made_that_the_caller_cannot_see_is_not_confirmed(api: Api, database: Database) -> None:
    org = await build_org(api, database)
    brief = await api.brief()
    hidden = await api.offered(brief_id=brief["id"], assignee_id=org.people["colleague"]["id"],
                               reviewer_id=org.people["admin"]["id"], external_ref="secret-ref")
    response = await org.as_("boss", "POST", "/v1/assignments/batch", json={"items": [
        {"brief_id": brief["id"], "assignee_id": org.people["assignee"]["id"], "external_ref": "secret-ref"},
    ]})
    result = response.json()["results"][0]
    assert (result["status"], result["id"], result["problem"]["code"]) == ("error", None, "assignment.external_ref_taken")
    assert hidden["id"] not in response.text, "the hidden assignment's id is not given away"
