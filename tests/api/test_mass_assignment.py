"""Fields a caller may not set are in no request schema, so sending one is a 422 that names it (OWASP API6)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support import RUBRIC, Api, problem

SERVER_OWNED = {
    "id": "01a20f43-0000-7000-8000-000000000000", "tenant_id": "01a20f43-0000-7000-8000-000000000001",
    "version": 7, "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z",
}


async def _bodies(api: Api) -> list[tuple[str, str, dict[str, Any], dict[str, Any]]]:
    """(method, url, a valid body, the fields it must refuse beyond the server-owned ones)."""
    skill = await api.skill()
    brief = await api.brief(skill_id=skill["id"])
    manager, person = await api.team()
    offered = await api.offered(brief_id=brief["id"], assignee_id=person["id"])
    accepted = await api.accepted(brief_id=brief["id"], assignee_id=person["id"])
    submitted = await api.submitted(brief_id=brief["id"], assignee_id=person["id"])
    a = "/v1/assignments"
    return [
        ("POST", "/v1/people", {"external_id": "m1", "display_name": "M"}, {"is_active": True}),
        ("PATCH", f"/v1/people/{person['id']}", {"title": "T"}, {}),
        ("PUT", "/v1/people/by-external-id/m2", {"display_name": "M"}, {}),
        ("POST", "/v1/skills", {"key": "k-m", "name": "K", "levels": [{"level": 1, "name": "B"}]}, {}),
        ("PATCH", f"/v1/skills/{skill['id']}", {"name": "K"}, {"key": "other"}),
        ("POST", "/v1/briefs", {"title": "T", "instructions": "I", "skill_id": skill["id"], "target_level": 1, "timebox": "PT1H", "rubric": RUBRIC},
         {"status": "published", "revision": 3, "published_revision": 3}),
        ("PATCH", f"/v1/briefs/{brief['id']}", {"summary": "S"}, {"status": "archived", "revision": 9}),
        ("POST", a, {"brief_id": brief["id"], "assignee_id": person["id"]},
         {"state": "passed", "offered_by": "me", "score": 100, "attempt": 3, "allowed_actions": ["review"], "due_at": "2027-01-01T00:00:00Z"}),
        ("POST", f"{a}/{offered['id']}/accept", {}, {"state": "accepted", "due_at": "2027-01-01T00:00:00Z"}),
        ("POST", f"{a}/{accepted['id']}/extend", {"due_at": "2026-12-24T00:00:00Z", "reason": "r"}, {"state": "accepted"}),
        ("POST", f"{a}/{accepted['id']}/submissions", {"body": "b"}, {"late": False, "attempt": 1, "submitted_at": "2026-01-01T00:00:00Z"}),
        ("POST", f"{a}/{submitted['id']}/reviews", {"outcome": "pass", "scores": [], "feedback": "f"}, {"score": 100, "reviewer_id": manager["id"]}),
        ("POST", "/v1/webhooks", {"url": "https://crm.example.com/h"}, {"secret": "whsec_mine", "kind": "xapi"}),
    ]


@pytest.mark.parametrize("field", [*SERVER_OWNED, "extra"])
async def test_each_server_owned_field_is_refused(api: Api, field: str) -> None:
    for method, url, body, specific in await _bodies(api):
        fields = {field: SERVER_OWNED.get(field, "x")} if field != "extra" else specific
        for name, value in fields.items():
            response = await api.request(method, url, json=body | {name: value})
            error = problem(response, 422, "validation_failed")
            assert ["body", name] in [e["loc"] for e in error["errors"]], (method, url, name, error)
