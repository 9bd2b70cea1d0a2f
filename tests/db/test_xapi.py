"""xAPI 1.0.3 statements: their shape, the pull endpoint, and forwarding to an LRS through the outbox."""

from __future__ import annotations

import base64
import json
import random
import re
from typing import Any
from urllib.parse import parse_qs, urlparse
from uuid import UUID

import httpx
import pytest
from sqlalchemy import text

from app.domain.webhooks import RETRY_DELAYS
from app.repositories.clock import Uuid7Ids
from app.repositories.sql.database import Database
from app.services.webhooks import deliver_due
from app.workers.sender import HttpSender
from tests.support import Api, problem

DURATION = re.compile(r"^P(?!$)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+(\.\d+)?S)?)?$")
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
SCORES = [{"criterion": "correctness", "score": 1}, {"criterion": "clarity", "score": 4}]


def is_iri(value: str) -> bool:
    return bool(urlparse(value).scheme)


def assert_valid_statement(s: dict[str, Any]) -> None:
    """The xAPI 1.0.3 rules a conformant LRS checks on what Stint sends."""
    UUID(s["id"])
    actor = s["actor"]
    assert actor["objectType"] == "Agent"
    identifiers = [key for key in ("mbox", "account") if key in actor]
    assert len(identifiers) == 1, "exactly one inverse functional identifier"
    if "account" in actor:
        assert is_iri(actor["account"]["homePage"]) and actor["account"]["name"]
    else:
        assert actor["mbox"].startswith("mailto:")
    assert is_iri(s["verb"]["id"]) and s["verb"]["display"]["en-US"]
    assert s["object"]["objectType"] == "Activity" and is_iri(s["object"]["id"])
    assert is_iri(s["object"]["definition"]["type"])
    for activity in s["context"]["contextActivities"]["category"]:
        assert is_iri(activity["id"]) and is_iri(activity["definition"]["type"])
    UUID(s["context"]["registration"])
    assert all(is_iri(key) for key in s["context"]["extensions"])
    assert TIMESTAMP.match(s["timestamp"])
    result = s.get("result", {})
    if "score" in result:
        assert -1 <= result["score"]["scaled"] <= 1
        assert result["score"]["min"] <= result["score"]["raw"] <= result["score"]["max"]
    if "duration" in result:
        assert DURATION.match(result["duration"]), result["duration"]


async def lifecycle(api: Api) -> dict[str, Any]:
    assignment = await api.accepted()
    await api.act(assignment["id"], "submissions", {"body": "v1", "time_spent": "PT1H30M"}, expect=201)
    await api.act(assignment["id"], "reviews", {"outcome": "revise", "scores": SCORES, "feedback": "almost"}, expect=201)
    await api.act(assignment["id"], "submissions", {"body": "v2"}, expect=201)
    await api.act(assignment["id"], "reviews", {"outcome": "pass", "scores": SCORES, "feedback": "good"}, expect=201)
    return assignment


async def test_the_lifecycle_as_valid_statements(api: Api) -> None:
    assignment = await lifecycle(api)
    response = await api.get("/v1/xapi/statements", params={"limit": 200})
    assert response.status_code == 200 and response.headers["x-experience-api-version"] == "1.0.3"
    body = response.json()
    mine = [s for s in body["statements"] if s["context"]["registration"] == assignment["id"]]
    assert [s["verb"]["display"]["en-US"] for s in mine] == ["registered", "initialized", "completed", "scored", "completed", "passed"]
    for statement in body["statements"]:
        assert_valid_statement(statement)
    completed, revised, passed = mine[2], mine[3], mine[5]
    assert completed["result"] == {"completion": True, "duration": "PT1H30M"}
    assert revised["result"]["success"] is False and revised["result"]["completion"] is False
    assert passed["result"]["score"] == {"scaled": 0.625, "raw": 62.5, "min": 0, "max": 100} and passed["result"]["success"] is True
    assert mine[0]["actor"]["account"]["name"] == (await api.get(f"/v1/people/{assignment['assignee_id']}")).json()["external_id"]
    assert passed["object"]["definition"]["name"]["en-US"] == "Speed up the weekly report query"
    again = (await api.get("/v1/xapi/statements", params={"limit": 200})).json()["statements"]
    assert [s["id"] for s in again] == [s["id"] for s in body["statements"]], "stable ids: re-sending stores once"


async def test_statement_pages_link_to_the_next(api: Api) -> None:
    await lifecycle(api)
    first = (await api.get("/v1/xapi/statements", params={"limit": 4})).json()
    assert len(first["statements"]) == 4 and first["more"]
    follow = await api.get(first["more"].replace("http://stint.test", ""))
    rest = follow.json()
    assert len(rest["statements"]) == 2 and rest["more"] == ""
    problem(await api.get("/v1/xapi/statements", params={"cursor": "@@"}), 400, "invalid_cursor")


@pytest.fixture(autouse=True)
async def quiet_outbox(database: Database) -> None:
    async with database.engine.begin() as conn:
        await conn.execute(text("UPDATE webhook_deliveries SET status = 'failed' WHERE status = 'pending'"))


async def test_statements_are_forwarded_to_the_lrs_with_retries(api: Api, database: Database) -> None:
    configured = await api.put("/v1/tenant/lrs", {
        "endpoint": "https://lrs.example.com/xapi/", "key": "stint", "secret": "s3cret", "home_page": "https://hr.example.com",
    })
    assert configured.status_code == 200 and "secret" not in configured.json()
    assert (await api.get("/v1/webhooks")).json()["items"] == [], "the LRS is not one of the webhooks"
    answers, received = [500], []

    def lrs(request: httpx.Request) -> httpx.Response:
        received.append(request)
        return httpx.Response(answers.pop(0) if answers else 204)

    sender = HttpSender(httpx.AsyncClient(transport=httpx.MockTransport(lrs)), allow_private=True)
    assignment = await api.offered()
    await deliver_due(database.outbox_uow, sender, api.clock, Uuid7Ids(), random.Random(1), batch_size=50)
    api.clock.advance(seconds=RETRY_DELAYS[0].total_seconds() * 1.1)
    await deliver_due(database.outbox_uow, sender, api.clock, Uuid7Ids(), random.Random(1), batch_size=50)
    assert len(received) == 2
    request = received[-1]
    statement = json.loads(request.content)
    assert_valid_statement(statement)
    assert request.method == "PUT" and request.url.path == "/xapi/statements"
    assert parse_qs(request.url.query.decode())["statementId"] == [statement["id"]]
    assert request.headers["x-experience-api-version"] == "1.0.3"
    assert request.headers["authorization"] == "Basic " + base64.b64encode(b"stint:s3cret").decode()
    assert statement["actor"]["account"]["homePage"] == "https://hr.example.com"
    assert statement["context"]["registration"] == assignment["id"]
    assert (await api.get("/v1/tenant/lrs")).json()["key"] == "stint"
    assert (await api.client.delete("/v1/tenant/lrs")).status_code == 204
    problem(await api.get("/v1/tenant/lrs"), 404)


async def test_learners_by_mbox_when_configured(api: Api, database: Database) -> None:
    await api.put("/v1/tenant/lrs", {"endpoint": "https://lrs.example.com/xapi", "key": "k", "secret": "s", "home_page": "https://hr.example.com", "use_mbox": True})
    manager = await api.person()
    person = await api.person(email="sam@example.com", manager_id=manager["id"])
    await api.offered(assignee_id=person["id"])
    statements = (await api.get("/v1/xapi/statements", params={"limit": 200})).json()["statements"]
    assert statements[-1]["actor"] == {"objectType": "Agent", "name": "Someone", "mbox": "mailto:sam@example.com"}
