"""People, skills and briefs over HTTP."""

from __future__ import annotations

from tests.support import Api, problem


async def test_people_create_read_patch(api: Api) -> None:
    manager = await api.person(display_name="Maria", email="maria@example.com", team="Data", title="Lead")
    assert (manager["email"], manager["team"], manager["title"], manager["active"], manager["version"]) == ("maria@example.com", "Data", "Lead", True, 1)
    problem(await api.post("/v1/people", {"external_id": manager["external_id"], "display_name": "Dup"}), 409, "person.external_id_taken")
    problem(await api.post("/v1/people", {"external_id": "e1", "display_name": "E", "email": "not-an-email"}), 422, "validation_failed")

    report = await api.person(manager_id=manager["id"])
    changed = await api.patch(f"/v1/people/{report['id']}", {"title": "Analyst", "team": None})
    assert changed.status_code == 200
    assert (changed.json()["title"], changed.json()["team"], changed.json()["version"]) == ("Analyst", None, 2)
    assert changed.headers["etag"] == '"2"'
    problem(await api.patch(f"/v1/people/{report['id']}", {"display_name": None}), 422, "validation_failed")
    problem(await api.patch(f"/v1/people/{report['id']}", {"title": "x"}, headers={"If-Match": '"1"'}), 412, "precondition_failed")
    unchanged = await api.patch(f"/v1/people/{report['id']}", {"title": "Analyst"})
    assert unchanged.json()["version"] == 2, "a patch that changes nothing does not bump the version"


async def test_manager_cycles_are_refused_when_written(api: Api) -> None:
    top = await api.person()
    middle = await api.person(manager_id=top["id"])
    bottom = await api.person(manager_id=middle["id"])
    problem(await api.patch(f"/v1/people/{top['id']}", {"manager_id": bottom["id"]}), 422, "person.manager_cycle")
    problem(await api.patch(f"/v1/people/{top['id']}", {"manager_id": top["id"]}), 422, "person.manager_cycle")
    problem(await api.post("/v1/people", {"external_id": "x1", "display_name": "X", "manager_id": "01a20f43-0000-7000-8000-000000000000"}), 422, "person.unknown_manager")
    assert (await api.get(f"/v1/people/{top['id']}")).json()["manager_id"] is None


async def test_upsert_by_external_id(api: Api) -> None:
    first = await api.put("/v1/people/by-external-id/wd-1001", {"display_name": "Ana", "title": "Engineer"})
    assert first.status_code == 201 and first.json()["external_id"] == "wd-1001"
    assert first.headers["location"] == f"/v1/people/{first.json()['id']}"
    again = await api.put("/v1/people/by-external-id/wd-1001", {"display_name": "Ana", "title": "Engineer"})
    assert again.status_code == 200 and again.json()["version"] == 1, "re-sending the same record changes nothing"
    replaced = await api.put("/v1/people/by-external-id/wd-1001", {"display_name": "Ana Lopez"})
    assert replaced.status_code == 200
    assert (replaced.json()["display_name"], replaced.json()["title"], replaced.json()["version"]) == ("Ana Lopez", None, 2)
    assert replaced.json()["id"] == first.json()["id"]
    problem(await api.put("/v1/people/by-external-id/wd-1002", {"display_name": "B", "external_id": "x"}), 422, "validation_failed")


async def test_people_list_and_filters(api: Api) -> None:
    manager = await api.person()
    reports = [await api.person(manager_id=manager["id"]) for _ in range(3)]
    await api.person(manager_id=manager["id"], active=False)
    listed = (await api.get("/v1/people", params={"manager_id": manager["id"], "active": "true"})).json()
    assert [p["id"] for p in listed["items"]] == [r["id"] for r in reports]


async def test_skills(api: Api) -> None:
    skill = await api.skill(key="sql.tuning", levels=[{"level": 3, "name": "Expert"}, {"level": 1, "name": "Basic"}],
                            framework="esco", framework_ref="http://data.europa.eu/esco/skill/abc")
    assert [level["level"] for level in skill["levels"]] == [1, 3], "levels are kept in order"
    problem(await api.post("/v1/skills", {"key": "sql.tuning", "name": "Again", "levels": [{"level": 1, "name": "B"}]}), 409, "skill.key_taken")
    problem(await api.post("/v1/skills", {"key": "Bad Key", "name": "x", "levels": [{"level": 1, "name": "B"}]}), 422)
    problem(await api.post("/v1/skills", {"key": "dup", "name": "x", "levels": [{"level": 1, "name": "B"}, {"level": 1, "name": "C"}]}), 422)
    patched = (await api.patch(f"/v1/skills/{skill['id']}", {"name": "SQL query tuning"})).json()
    assert (patched["name"], patched["version"]) == ("SQL query tuning", 2)
    assert (await api.get(f"/v1/skills/{skill['id']}")).json()["name"] == "SQL query tuning"


async def test_brief_drafts_publish_and_archive(api: Api) -> None:
    draft = await api.brief(publish=False)
    assert (draft["status"], draft["revision"], draft["published_revision"]) == ("draft", 1, None)
    edited = (await api.patch(f"/v1/briefs/{draft['id']}", {"summary": "Short"})).json()
    assert (edited["revision"], edited["summary"]) == (1, "Short"), "a draft changes in place"
    published = (await api.post(f"/v1/briefs/{draft['id']}/publish")).json()
    assert (published["status"], published["published_revision"]) == ("published", 1)
    republished = (await api.post(f"/v1/briefs/{draft['id']}/publish")).json()
    assert republished["version"] == published["version"], "publishing again changes nothing"
    archived = (await api.post(f"/v1/briefs/{draft['id']}/archive")).json()
    assert archived["status"] == "archived"
    problem(await api.patch(f"/v1/briefs/{draft['id']}", {"title": "x"}), 409, "brief.archived")
    _, report = await api.team()
    problem(await api.post("/v1/assignments", {"brief_id": draft["id"], "assignee_id": report["id"]}), 409, "brief.archived")
    listed = (await api.get("/v1/briefs", params={"status": "archived"})).json()["items"]
    assert [b["id"] for b in listed] == [draft["id"]]
