"""Every operation, called as every kind of caller: the exact status each one gets.

Roles: the assignment's assignee, its reviewer, a manager above the assignee, an unrelated colleague,
a tenant-admin person (all with identity-provider tokens), an integration key without the needed
scope (it holds only act_as), and an admin key of another tenant. A new operation without a row here fails the test.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Callable
from uuid import uuid4

import pytest

from app.openapi import contract
from app.repositories.clock import SystemClock, Uuid7Ids
from app.repositories.sql.database import Database
from app.services import tenants
from tests.api.test_person_tokens import Org, build_org
from tests.support import PASSING_SCORES, RUBRIC, Api, iso

ROLES = ("assignee", "reviewer", "manager", "colleague", "admin", "key_without_scope", "other_tenant_key")
PEOPLE_ROLES = ROLES[:5]


@dataclass
class Objects:
    """What a call acts on, made fresh for each caller (so one caller's success cannot change another's answer)."""

    org: Org
    skill_id: str
    brief_id: str
    assignment_id: str = ""
    fresh_brief_id: str = ""
    webhook_id: str = ""
    delivery_id: str = ""
    import_id: str = ""

    def person(self, role: str) -> dict[str, Any]:
        return self.org.people[role]

    def due(self, days: int) -> str:
        return iso(self.org.api.clock.now() + timedelta(days=days))


Call = Callable[[Objects], tuple[str, str, Any]]


@dataclass(frozen=True)
class Row:
    call: Call
    expect: tuple[int, int, int, int, int, int, int]
    assignment: str | None = None
    """The state the assignment must be in first: offered, accepted or submitted."""
    fresh_brief: bool = False
    webhook: bool = False
    """A webhook (with one delivery queued) to act on."""
    lrs: bool = False
    """The tenant forwards statements to an LRS."""
    import_job: bool = False
    """An import job (started by an admin key) to look at."""


@dataclass(frozen=True)
class File:
    """A request body that is a file, not JSON."""

    content: str
    media_type: str = "text/csv"


def _w(o: Objects, suffix: str = "") -> str:
    return f"/v1/webhooks/{o.webhook_id}{suffix}"


HOOK = {"url": "https://hooks.example.com/stint", "event_types": ["assignment.*"]}
LRS = {"endpoint": "https://lrs.example.com/xapi", "key": "k", "secret": "s", "home_page": "https://hr.example.com"}
NO_ACCESS = (403, 403, 403, 403)


def _a(o: Objects, suffix: str = "") -> str:
    return f"/v1/assignments/{o.assignment_id}{suffix}"


MATRIX: dict[str, Row] = {
    #                                                                          assignee reviewer manager colleague admin no-scope other-tenant
    "healthz": Row(lambda o: ("GET", "/healthz", None), (200, 200, 200, 200, 200, 200, 200)),
    "readyz": Row(lambda o: ("GET", "/readyz", None), (200, 200, 200, 200, 200, 200, 200)),
    "metrics": Row(lambda o: ("GET", "/metrics", None), (200, 200, 200, 200, 200, 200, 200)),
    "create_person": Row(lambda o: ("POST", "/v1/people", {"external_id": uuid4().hex, "display_name": "N"}), (403, 403, 403, 403, 201, 403, 201)),
    "list_people": Row(lambda o: ("GET", "/v1/people", None), (200, 200, 200, 200, 200, 403, 200)),
    "get_person": Row(lambda o: ("GET", f"/v1/people/{o.person('assignee')['id']}", None), (200, 404, 200, 404, 200, 403, 404)),
    "update_person": Row(lambda o: ("PATCH", f"/v1/people/{o.person('assignee')['id']}", {"title": "Analyst"}), (403, 403, 403, 403, 200, 403, 404)),
    "upsert_person": Row(lambda o: ("PUT", f"/v1/people/by-external-id/{o.person('assignee')['external_id']}", {"display_name": "Pat", "manager_id": None}), (403, 403, 403, 403, 200, 403, 201)),
    "get_skill_profile": Row(lambda o: ("GET", f"/v1/people/{o.person('assignee')['id']}/skills", None), (200, 404, 200, 404, 200, 403, 404)),
    "create_skill": Row(lambda o: ("POST", "/v1/skills", {"key": uuid4().hex[:12], "name": "S", "levels": [{"level": 1, "name": "B"}]}), (403, 403, 403, 403, 201, 403, 201)),
    "list_skills": Row(lambda o: ("GET", "/v1/skills", None), (200, 200, 200, 200, 200, 403, 200)),
    "get_skill": Row(lambda o: ("GET", f"/v1/skills/{o.skill_id}", None), (200, 200, 200, 200, 200, 403, 404)),
    "update_skill": Row(lambda o: ("PATCH", f"/v1/skills/{o.skill_id}", {"name": "Renamed"}), (403, 403, 403, 403, 200, 403, 404)),
    "create_brief": Row(lambda o: ("POST", "/v1/briefs", {"title": "T", "instructions": "I", "skill_id": o.skill_id, "target_level": 2, "timebox": "PT1H", "rubric": RUBRIC}), (403, 403, 403, 403, 201, 403, 422)),
    "list_briefs": Row(lambda o: ("GET", "/v1/briefs", None), (200, 200, 200, 200, 200, 403, 200)),
    "get_brief": Row(lambda o: ("GET", f"/v1/briefs/{o.brief_id}", None), (200, 200, 200, 200, 200, 403, 404)),
    "update_brief": Row(lambda o: ("PATCH", f"/v1/briefs/{o.fresh_brief_id}", {"summary": "S"}), (403, 403, 403, 403, 200, 403, 404), fresh_brief=True),
    "publish_brief": Row(lambda o: ("POST", f"/v1/briefs/{o.fresh_brief_id}/publish", None), (403, 403, 403, 403, 200, 403, 404), fresh_brief=True),
    "archive_brief": Row(lambda o: ("POST", f"/v1/briefs/{o.fresh_brief_id}/archive", None), (403, 403, 403, 403, 200, 403, 404), fresh_brief=True),
    "offer_assignment": Row(lambda o: ("POST", "/v1/assignments", {"brief_id": o.brief_id, "assignee_id": o.person("assignee")["id"]}), (403, 422, 201, 422, 201, 403, 422)),
    "list_assignments": Row(lambda o: ("GET", "/v1/assignments", None), (200, 200, 200, 200, 200, 403, 200)),
    "get_assignment": Row(lambda o: ("GET", _a(o), None), (200, 200, 200, 404, 200, 403, 404), "offered"),
    "accept_assignment": Row(lambda o: ("POST", _a(o, "/accept"), None), (200, 403, 403, 404, 403, 403, 404), "offered"),
    "decline_assignment": Row(lambda o: ("POST", _a(o, "/decline"), {"reason": "busy"}), (200, 403, 403, 404, 403, 403, 404), "offered"),
    "withdraw_assignment": Row(lambda o: ("POST", _a(o, "/withdraw"), {"reason": "r"}), (403, 200, 200, 404, 200, 403, 404), "offered"),
    "extend_assignment": Row(lambda o: ("POST", _a(o, "/extend"), {"due_at": o.due(2), "reason": "r"}), (403, 200, 200, 404, 200, 403, 404), "accepted"),
    "reclaim_submission": Row(lambda o: ("POST", _a(o, "/reclaim"), None), (200, 403, 403, 404, 403, 403, 404), "submitted"),
    "submit_assignment": Row(lambda o: ("POST", _a(o, "/submissions"), {"body": "done"}), (201, 403, 403, 404, 403, 403, 404), "accepted"),
    "list_submissions": Row(lambda o: ("GET", _a(o, "/submissions"), None), (200, 200, 200, 404, 200, 403, 404), "submitted"),
    "review_submission": Row(lambda o: ("POST", _a(o, "/reviews"), {"outcome": "pass", "scores": PASSING_SCORES, "feedback": "ok"}), (403, 201, 403, 404, 403, 403, 404), "submitted"),
    "list_reviews": Row(lambda o: ("GET", _a(o, "/reviews"), None), (200, 200, 200, 404, 200, 403, 404), "submitted"),
    "list_extensions": Row(lambda o: ("GET", _a(o, "/extensions"), None), (200, 200, 200, 404, 200, 403, 404), "accepted"),
    "list_assignment_events": Row(lambda o: ("GET", _a(o, "/events"), None), (200, 200, 200, 404, 200, 403, 404), "offered"),
    "get_me": Row(lambda o: ("GET", "/v1/me", None), (200, 200, 200, 200, 200, 403, 403)),
    "list_my_assignments": Row(lambda o: ("GET", "/v1/me/assignments", None), (200, 200, 200, 200, 200, 403, 403)),
    "list_my_reviews": Row(lambda o: ("GET", "/v1/me/reviews", None), (200, 200, 200, 200, 200, 403, 403)),
    "list_my_team": Row(lambda o: ("GET", "/v1/me/team", None), (200, 200, 200, 200, 200, 403, 403)),
    "get_identity_provider": Row(lambda o: ("GET", "/v1/tenant/identity-provider", None), (403, 403, 403, 403, 200, 403, 404)),
    "list_events": Row(lambda o: ("GET", "/v1/events", None), (*NO_ACCESS, 200, 403, 200)),
    "create_webhook": Row(lambda o: ("POST", "/v1/webhooks", HOOK), (*NO_ACCESS, 201, 403, 201)),
    "list_webhooks": Row(lambda o: ("GET", "/v1/webhooks", None), (*NO_ACCESS, 200, 403, 200)),
    "get_webhook": Row(lambda o: ("GET", _w(o), None), (*NO_ACCESS, 200, 403, 404), webhook=True),
    "update_webhook": Row(lambda o: ("PATCH", _w(o), {"description": "CRM"}), (*NO_ACCESS, 200, 403, 404), webhook=True),
    "delete_webhook": Row(lambda o: ("DELETE", _w(o), None), (*NO_ACCESS, 204, 403, 404), webhook=True),
    "rotate_webhook_secret": Row(lambda o: ("POST", _w(o, "/rotate-secret"), None), (*NO_ACCESS, 200, 403, 404), webhook=True),
    "ping_webhook": Row(lambda o: ("POST", _w(o, "/ping"), None), (*NO_ACCESS, 202, 403, 404), webhook=True),
    "list_webhook_deliveries": Row(lambda o: ("GET", _w(o, "/deliveries"), None), (*NO_ACCESS, 200, 403, 404), webhook=True),
    "set_lrs": Row(lambda o: ("PUT", "/v1/tenant/lrs", LRS), (*NO_ACCESS, 200, 403, 200)),
    "get_lrs": Row(lambda o: ("GET", "/v1/tenant/lrs", None), (*NO_ACCESS, 200, 403, 404), lrs=True),
    "delete_lrs": Row(lambda o: ("DELETE", "/v1/tenant/lrs", None), (*NO_ACCESS, 204, 403, 404), lrs=True),
    "list_lrs_deliveries": Row(lambda o: ("GET", "/v1/tenant/lrs/deliveries", None), (*NO_ACCESS, 200, 403, 404), lrs=True),
    # No statement was made since the LRS was set, so the admin's retry finds no delivery (tests/db/test_xapi.py retries one).
    "retry_lrs_delivery": Row(lambda o: ("POST", f"/v1/tenant/lrs/deliveries/{uuid4()}/retry", None), (*NO_ACCESS, 404, 403, 404), lrs=True),
    "list_xapi_statements": Row(lambda o: ("GET", "/v1/xapi/statements", None), (*NO_ACCESS, 200, 403, 200)),
    # Batches answer 200 with a result per item (an item the caller may not write is an error there).
    "batch_upsert_people": Row(lambda o: ("POST", "/v1/people/batch", {"items": [{"external_id": uuid4().hex, "display_name": "N"}]}), (403, 403, 403, 403, 200, 403, 200)),
    "batch_upsert_skills": Row(lambda o: ("POST", "/v1/skills/batch", {"items": [{"key": uuid4().hex[:12], "name": "S", "levels": [{"level": 1, "name": "B"}]}]}), (403, 403, 403, 403, 200, 403, 200)),
    "batch_upsert_briefs": Row(lambda o: ("POST", "/v1/briefs/batch", {"items": [{"key": uuid4().hex[:12], "summary": "S"}]}), (403, 403, 403, 403, 200, 403, 200)),
    "batch_offer_assignments": Row(lambda o: ("POST", "/v1/assignments/batch", {"items": [{"brief_id": o.brief_id, "assignee_id": o.person("assignee")["id"]}]}), (200, 200, 200, 200, 200, 403, 200)),
    "create_import": Row(lambda o: ("POST", "/v1/imports?kind=people", File(f"external_id,display_name\n{uuid4().hex},N\n")), (403, 403, 403, 403, 202, 403, 202)),
    "list_imports": Row(lambda o: ("GET", "/v1/imports", None), (200, 200, 200, 200, 200, 200, 200)),
    "get_import": Row(lambda o: ("GET", f"/v1/imports/{o.import_id}", None), (404, 404, 404, 404, 200, 404, 404), import_job=True),
    "list_import_errors": Row(lambda o: ("GET", f"/v1/imports/{o.import_id}/errors", None), (404, 404, 404, 404, 200, 404, 404), import_job=True),
    "retry_webhook_delivery": Row(lambda o: ("POST", _w(o, f"/deliveries/{o.delivery_id}/retry"), None), (*NO_ACCESS, 200, 403, 404), webhook=True),
}


def test_the_matrix_covers_every_operation_in_the_contract() -> None:
    operations = {op["operationId"] for path in contract()["paths"].values() for op in path.values()}
    assert set(MATRIX) == operations, f"missing rows: {operations - set(MATRIX)}; stale rows: {set(MATRIX) - operations}"


async def _assignment_in(o: Objects, state: str) -> str:
    api = o.org.api
    body = {"brief_id": o.brief_id, "assignee_id": o.person("assignee")["id"], "reviewer_id": o.person("reviewer")["id"]}
    assignment = await api.created("/v1/assignments", body)
    if state in ("accepted", "submitted"):
        await api.act(assignment["id"], "accept")
    if state == "submitted":
        await api.act(assignment["id"], "submissions", {"body": "work"}, expect=201)
    return assignment["id"]


@pytest.mark.parametrize("operation", sorted(MATRIX))
async def test_each_role_gets_exactly_its_status(operation: str, api: Api, database: Database) -> None:
    row = MATRIX[operation]
    org = await build_org(api, database)
    skill = await api.skill()
    brief = await api.brief(skill_id=skill["id"])
    no_scope = await api.make_key(["act_as"])  # a real scope that grants nothing by itself
    other_slug = f"o-{uuid4().hex[:12]}"
    await tenants.create_tenant(database.directory, SystemClock(), Uuid7Ids(), other_slug)
    _, other_key = await tenants.create_key(database.directory, SystemClock(), Uuid7Ids(), other_slug, "other", ["admin"])

    got = []
    for role in ROLES:
        o = Objects(org, skill["id"], brief["id"])
        if row.assignment:
            o.assignment_id = await _assignment_in(o, row.assignment)
        if row.fresh_brief:
            o.fresh_brief_id = (await api.brief(skill_id=skill["id"]))["id"]
        if row.lrs:
            assert (await api.put("/v1/tenant/lrs", LRS)).status_code == 200
        if row.webhook:
            o.webhook_id = (await api.created("/v1/webhooks", HOOK))["id"]
            assert (await api.post(f"/v1/webhooks/{o.webhook_id}/ping")).status_code == 202
            o.delivery_id = (await api.get(f"/v1/webhooks/{o.webhook_id}/deliveries")).json()["items"][0]["id"]
        if row.import_job:
            started = await api.post("/v1/imports", params={"kind": "people"}, content="external_id\nx\n", headers={"Content-Type": "text/csv"})
            o.import_id = started.json()["id"]
        method, url, body = row.call(o)
        credential = org.token(role) if role in PEOPLE_ROLES else no_scope if role == "key_without_scope" else other_key
        headers = {"Authorization": f"Bearer {credential}"}
        if isinstance(body, File):
            response = await api.client.request(method, url, content=body.content, headers=headers | {"Content-Type": body.media_type})
        else:
            response = await api.client.request(method, url, json=body, headers=headers)
        if response.status_code >= 400:
            assert response.headers["content-type"].startswith("application/problem+json"), (role, response.text)
        got.append(response.status_code)
    assert dict(zip(ROLES, got)) == dict(zip(ROLES, row.expect))
