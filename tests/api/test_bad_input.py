"""Every bad input gets a clear problem+json error and changes nothing."""

from __future__ import annotations

import pytest

from tests.support import RUBRIC, Api, problem


async def _count(api: Api, url: str) -> int:
    return len((await api.get(url, params={"limit": 200})).json()["items"])


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"timebox": "3 hours"}, "timebox"),
        ({"timebox": "-PT3H"}, "timebox"),
        ({"timebox": "P1Y"}, "timebox"),
        ({"timebox": "PT1.5S"}, "timebox"),
        ({"timebox": 10800}, "timebox"),
        ({"timebox": "PT0S"}, "timebox"),
        ({"timebox": "P31D"}, "timebox"),
        ({"review_within": "PT0S"}, "review_within"),
        ({"late_grace": "P8D"}, "late_grace"),
        ({"max_attempts": 0}, "max_attempts"),
        ({"target_level": 9}, "target_level"),
        ({"target_level": "two"}, "target_level"),
        ({"title": ""}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"colour": "blue"}, "colour"),
        ({"rubric": {"criteria": []}}, "rubric"),
        ({"rubric": {**RUBRIC, "pass_score": 101}}, "rubric"),
        ({"rubric": {"criteria": [RUBRIC["criteria"][0], RUBRIC["criteria"][0]]}}, "rubric"),
    ],
)
async def test_bad_brief_fields_are_422_naming_the_field(api: Api, change: dict, field: str) -> None:
    skill = await api.skill()
    body = {"title": "T", "instructions": "Do it", "skill_id": skill["id"], "target_level": 2, "timebox": "PT3H", "rubric": RUBRIC} | change
    before = await _count(api, "/v1/briefs")
    error = problem(await api.post("/v1/briefs", body), 422)
    assert error["code"] == "validation_failed"
    assert any(field in e["loc"] for e in error["errors"]), error["errors"]
    assert await _count(api, "/v1/briefs") == before


async def test_missing_fields_and_wrong_types_list_each_problem(api: Api) -> None:
    error = problem(await api.post("/v1/briefs", {"title": 5}), 422, "validation_failed")
    locs = {tuple(e["loc"]) for e in error["errors"]}
    assert {("body", "title"), ("body", "instructions"), ("body", "skill_id"), ("body", "timebox"), ("body", "rubric")} <= locs
    assert all(set(e) == {"loc", "msg", "type"} for e in error["errors"])


async def test_unknown_skill_is_422_not_500(api: Api) -> None:
    body = {"title": "T", "instructions": "Do it", "skill_id": "01a20f43-0000-7000-8000-000000000000", "target_level": 1, "timebox": "PT3H", "rubric": RUBRIC}
    error = problem(await api.post("/v1/briefs", body), 422, "validation_failed")
    assert error["errors"][0]["loc"] == ["body", "skill_id"]


@pytest.mark.parametrize(
    ("scores", "fragment"),
    [
        ([{"criterion": "correctness", "score": 2}], "missing: clarity"),
        ([{"criterion": "correctness", "score": 2}, {"criterion": "clarity", "score": 3}], "not a level"),
        ([{"criterion": "correctness", "score": 2}, {"criterion": "clarity", "score": 4}, {"criterion": "style", "score": 1}], "no criterion"),
        ([{"criterion": "correctness", "score": 2}, {"criterion": "correctness", "score": 2}, {"criterion": "clarity", "score": 4}], "twice"),
    ],
)
async def test_scores_outside_the_rubric_are_refused(api: Api, scores: list, fragment: str) -> None:
    assignment = await api.submitted()
    error = problem(await api.post(f"/v1/assignments/{assignment['id']}/reviews", {"outcome": "pass", "scores": scores, "feedback": "x"}), 422, "review.invalid_scores")
    assert any(fragment in e["msg"] for e in error["errors"]), error["errors"]
    after = await api.assignment(assignment["id"])
    assert (after["state"], after["version"]) == ("submitted", assignment["version"])
    assert (await api.get(f"/v1/assignments/{assignment['id']}/reviews")).json()["items"] == []


async def test_malformed_json_is_400(api: Api) -> None:
    response = await api.post("/v1/people", content=b'{"external_id": ', headers={"content-type": "application/json"})
    problem(response, 400, "malformed_json")


async def test_wrong_media_type_is_415(api: Api) -> None:
    response = await api.post("/v1/people", content=b"external_id=x", headers={"content-type": "application/x-www-form-urlencoded"})
    problem(response, 415, "unsupported_media_type")


async def test_oversized_body_is_413_before_it_is_read(api: Api) -> None:
    huge = b'{"external_id": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    problem(await api.post("/v1/people", content=huge, headers={"content-type": "application/json"}), 413, "payload_too_large")


async def test_malformed_and_unknown_ids(api: Api) -> None:
    error = problem(await api.get("/v1/assignments/not-a-uuid"), 422, "validation_failed")
    assert error["errors"][0]["loc"] == ["path", "assignment_id"]
    problem(await api.get("/v1/assignments/01a20f43-0000-7000-8000-000000000000"), 404, "not_found")
    problem(await api.post("/v1/assignments/01a20f43-0000-7000-8000-000000000000/accept"), 404, "not_found")
    problem(await api.get("/v1/nothing-here"), 404, "not_found")


async def test_bad_cursor_and_limits(api: Api) -> None:
    problem(await api.get("/v1/people", params={"cursor": "!!"}), 400, "invalid_cursor")
    problem(await api.get("/v1/people", params={"limit": 201}), 422, "validation_failed")
    problem(await api.get("/v1/people", params={"limit": 0}), 422, "validation_failed")
    problem(await api.get("/v1/assignments", params={"state": "sleeping"}), 422, "validation_failed")


async def test_submission_bounds(api: Api) -> None:
    assignment = await api.accepted()
    problem(await api.post(f"/v1/assignments/{assignment['id']}/submissions", {}), 422, "submission.empty")
    problem(await api.post(f"/v1/assignments/{assignment['id']}/submissions", {"links": [{"url": "javascript:alert(1)"}]}), 422, "validation_failed")
    problem(await api.post(f"/v1/assignments/{assignment['id']}/submissions", {"body": "x", "time_spent": "2h"}), 422, "validation_failed")
    assert (await api.assignment(assignment["id"]))["state"] == "accepted"


async def test_fields_the_caller_may_not_set_are_refused(api: Api) -> None:
    assignment = await api.offered()
    for field, value in [("state", "passed"), ("version", 9), ("id", assignment["id"]), ("score", 100), ("offered_by", "me")]:
        error = problem(await api.post("/v1/assignments", {"brief_id": assignment["brief_id"], "assignee_id": assignment["assignee_id"], field: value}), 422, "validation_failed")
        assert error["errors"][0]["loc"] == ["body", field]
    person = await api.person()
    problem(await api.patch(f"/v1/people/{person['id']}", {"version": 7}), 422, "validation_failed")


async def test_credentials(api: Api) -> None:
    no_key = await api.client.get("/v1/people", headers={"Authorization": ""})
    assert no_key.headers["www-authenticate"].startswith("Bearer")
    problem(no_key, 401, "unauthenticated")
    problem(await api.client.get("/v1/people", headers={"Authorization": "Bearer stint_not-a-key"}), 401, "unauthenticated")
    reader = await api.make_key(["people:read"])
    response = await api.client.post("/v1/people", json={"external_id": "x", "display_name": "X"}, headers={"Authorization": f"Bearer {reader}"})
    assert problem(response, 403, "forbidden.missing_scope")["required_scope"] == "people:write"
    assert (await api.client.get("/v1/people", headers={"Authorization": f"Bearer {reader}"})).status_code == 200
    problem(await api.client.get("/v1/assignments", headers={"Authorization": f"Bearer {reader}"}), 403)


async def test_control_characters_are_refused_before_they_reach_the_database(api: Api) -> None:
    """PostgreSQL cannot store NUL in text; such input is a 422, never a 500."""
    assignment = await api.accepted()
    problem(await api.post(f"/v1/assignments/{assignment['id']}/withdraw", {"reason": "bad\x00reason"}), 422, "validation_failed")
    problem(await api.get("/v1/assignments", params={"external_ref": "x\x00y"}), 422, "validation_failed")
    problem(await api.post("/v1/people", {"external_id": "nul\x00", "display_name": "x"}), 422, "validation_failed")
    problem(await api.post(f"/v1/assignments/{assignment['id']}/submissions", {"body": "a\x00b"}), 422, "validation_failed")
    assert (await api.assignment(assignment["id"]))["state"] == "accepted"


async def test_null_where_a_field_cannot_be_cleared_is_422_not_a_500(api: Api) -> None:
    """Found by the contract fuzzer: these once gave a 500 (levels) and a 409 (name)."""
    skill = await api.skill()
    for body in ({"levels": None}, {"name": None}):
        error = problem(await api.patch(f"/v1/skills/{skill['id']}", body), 422, "validation_failed")
        assert error["errors"][0]["loc"] == ["body", next(iter(body))]
    cleared = await api.patch(f"/v1/skills/{skill['id']}", {"description": None})
    assert cleared.status_code == 200 and cleared.json()["description"] is None
    brief = await api.brief(publish=False)
    problem(await api.patch(f"/v1/briefs/{brief['id']}", {"timebox": None}), 422, "validation_failed")
    assert (await api.patch(f"/v1/briefs/{brief['id']}", {"summary": None})).status_code == 200
    partly = await api.patch(f"/v1/briefs/{brief['id']}", {"deliverable": {}})
    assert partly.status_code == 200 and partly.json()["deliverable"] == {"kind": "any", "description": None}


async def test_malformed_urls_are_422_not_a_500(api: Api) -> None:
    """Found by the contract fuzzer: an unclosed IPv6 bracket crashed URL parsing."""
    problem(await api.post("/v1/webhooks", {"url": "https://["}), 422, "webhook.invalid_url")
    lrs = {"endpoint": "http://[", "key": "k", "secret": "s", "home_page": "https://hr.example.com"}
    error = problem(await api.put("/v1/tenant/lrs", lrs), 422, "webhook.invalid_url")
    assert error["errors"][0]["loc"] == ["body", "endpoint"]
