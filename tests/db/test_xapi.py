"""xAPI 1.0.3 statements: their shape, the pull endpoint, and forwarding to an LRS through the outbox."""

from __future__ import annotations

import base64
import json
import random
from typing import Any
from urllib.parse import parse_qs
from uuid import UUID

import httpx
import pytest
from sqlalchemy import text
from tincan import RemoteLRS, StatementsResult

from app.domain import xapi
from app.domain.webhooks import RETRY_DELAYS
from app.repositories.clock import Uuid7Ids
from app.repositories.sql.database import Database
from app.services.webhooks import deliver_due
from app.workers.sender import HttpSender
from tests.db.xapi_checks import assert_valid_statement
from tests.support import Api, problem

SCORES = [{"criterion": "correctness", "score": 1}, {"criterion": "clarity", "score": 4}]


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
    mine = [s for s in body["statements"] if s["context"]["extensions"][xapi.ASSIGNMENT_EXTENSION] == assignment["id"]]
    assert {s["context"]["registration"] for s in mine} == {str(xapi.registration(assignment["id"]))}
    assert UUID(mine[0]["context"]["registration"]).version == 5
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
    assert len(first["statements"]) == 4 and first["more"].startswith("/v1/xapi/statements?"), "a relative IRL"
    follow = await api.get(first["more"])
    rest = follow.json()
    assert len(rest["statements"]) == 2 and rest["more"] == ""
    problem(await api.get("/v1/xapi/statements", params={"cursor": "@@"}), 400, "invalid_cursor")


async def test_tincan_paging_walks_every_statement_once(api: Api) -> None:
    """tincan's RemoteLRS.more_statements prefixes `more` with the endpoint's root (scheme, host, port)."""
    await lifecycle(api)
    await lifecycle(api)
    everything = (await api.get("/v1/xapi/statements", params={"limit": 200})).json()["statements"]
    root = RemoteLRS(endpoint="http://stint.test/v1/xapi/").get_endpoint_server_root()
    seen, url = [], "/v1/xapi/statements?limit=5"
    while url:
        response = await api.get(root + url)
        assert response.status_code == 200, response.text
        result = StatementsResult.from_json(response.text)
        seen += [str(statement.id) for statement in result.statements]
        url = result.more
    assert seen == [s["id"] for s in everything] and len(set(seen)) == len(seen) == 12


async def test_filters_an_lrs_client_sends(api: Api) -> None:
    first = await lifecycle(api)
    await lifecycle(api)
    everything = (await api.get("/v1/xapi/statements", params={"limit": 200})).json()["statements"]
    ours = [s for s in everything if s["context"]["extensions"][xapi.ASSIGNMENT_EXTENSION] == first["id"]]

    async def ids(**params: Any) -> list[str]:
        response = await api.get("/v1/xapi/statements", params={"limit": 200} | params)
        assert response.status_code == 200, response.text
        return [s["id"] for s in response.json()["statements"]]

    assert await ids(registration=ours[0]["context"]["registration"]) == [s["id"] for s in ours]
    assert await ids(verb=xapi.ADL + "passed") == [s["id"] for s in everything if s["verb"]["id"] == xapi.ADL + "passed"]
    assert await ids(activity=ours[0]["object"]["id"]) == [s["id"] for s in ours]
    assert await ids(agent=json.dumps({"objectType": "Agent", "account": ours[0]["actor"]["account"]})) == [s["id"] for s in ours]
    assert await ids(ascending="false") == [s["id"] for s in reversed(everything)]
    assert await ids(ascending="True", format="exact", attachments="false") == [s["id"] for s in everything]
    assert await ids(until=everything[0]["timestamp"]) == [s["id"] for s in everything if s["timestamp"] <= everything[0]["timestamp"]]
    newest = (await api.get("/v1/xapi/statements", params={"limit": 5, "ascending": "false"})).json()
    older = (await api.get(newest["more"])).json()
    assert [s["id"] for s in newest["statements"] + older["statements"]][:10] == [s["id"] for s in reversed(everything)][:10]
    for params, code in (({"sort": "id"}, "bad_query"), ({"agent": "{\"name\": \"x\"}"}, "bad_query"), ({"agent": "[]"}, "bad_query"),
                         ({"verb": "passed"}, "bad_query"), ({"attachments": "true"}, "bad_query")):
        response = await api.get("/v1/xapi/statements", params=params)
        problem(response, 400, code)
        assert response.headers["x-experience-api-version"] == "1.0.3", "problems say the version too"
    problem(await api.get("/v1/xapi/statements", params={"format": "ids"}), 422)


async def test_a_statement_never_changes_after_it_is_made(api: Api) -> None:
    """Renaming the learner, or changing the LRS's homePage and actor format, changes no statement already made."""
    manager = await api.person()
    person = await api.person(email="sam@example.com", manager_id=manager["id"])
    assignment = await api.offered(assignee_id=person["id"])
    before = (await api.get("/v1/xapi/statements", params={"limit": 200})).text
    patched = await api.patch(f"/v1/people/{person['id']}", {"display_name": "Sam Renamed"})
    assert patched.status_code == 200, patched.text
    await api.put("/v1/tenant/lrs", {"endpoint": "https://lrs.example.com/xapi", "key": "k", "secret": "s",
                                     "home_page": "https://elsewhere.example.com", "use_mbox": True})
    assert (await api.get("/v1/xapi/statements", params={"limit": 200})).text == before, "byte for byte"
    await api.act(assignment["id"], "accept")
    statements = (await api.get("/v1/xapi/statements", params={"limit": 200})).json()["statements"]
    assert statements[-1]["actor"] == {"objectType": "Agent", "name": "Sam Renamed", "mbox": "mailto:sam@example.com"}, "new ones: today's data"
    assert statements[-2]["actor"]["name"] == "Someone"


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
    assert statement["context"]["registration"] == str(xapi.registration(assignment["id"]))
    served = (await api.get("/v1/xapi/statements", params={"limit": 200})).text
    assert request.content.decode() in served, "the served statement is the pushed one, byte for byte"
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


LRS = {"endpoint": "https://lrs.example.com/xapi", "key": "stint", "secret": "wrong", "home_page": "https://hr.example.com"}


class FakeLrs:
    """An LRS that checks basic auth, stores each statement id once, and can be told to fail."""

    def __init__(self, secret: str = "right") -> None:
        self.secret, self.stored, self.puts, self.down = secret, {}, 0, False

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.puts += 1
        if self.down:
            raise httpx.ConnectError("connection refused")
        if request.headers["authorization"] != "Basic " + base64.b64encode(f"stint:{self.secret}".encode()).decode():
            return httpx.Response(401, json={"detail": "Invalid authentication credentials"})
        self.stored.setdefault(parse_qs(request.url.query.decode())["statementId"][0], request.content)
        return httpx.Response(204)

    def sender(self) -> HttpSender:
        return HttpSender(httpx.AsyncClient(transport=httpx.MockTransport(self)), allow_private=True)


async def deliver(api: Api, database: Database, lrs: FakeLrs) -> None:
    await deliver_due(database.outbox_uow, lrs.sender(), api.clock, Uuid7Ids(), random.Random(1), batch_size=50)


async def test_fixing_the_credentials_during_a_backlog_loses_nothing(api: Api, database: Database) -> None:
    assert (await api.put("/v1/tenant/lrs", LRS)).status_code == 200
    lrs = FakeLrs()
    for _ in range(3):
        await api.offered()
    await deliver(api, database, lrs)
    api.clock.advance(seconds=RETRY_DELAYS[0].total_seconds() * 1.2)
    await deliver(api, database, lrs)
    assert lrs.stored == {} and lrs.puts == 6, "refused twice each"
    watched = (await api.get("/v1/tenant/lrs")).json()
    assert watched["active"] is True and watched["health"]["backlog"] == 3
    assert watched["health"]["last_failure_status_code"] == 401 and watched["health"]["failing_since"] is not None
    assert watched["health"]["last_success_at"] is None and watched["health"]["oldest_pending_age_seconds"] >= 5
    log = (await api.get("/v1/tenant/lrs/deliveries")).json()["items"]
    assert len(log) == 3 and {d["status"] for d in log} == {"pending"} and {d["last_status_code"] for d in log} == {401}
    assert "Invalid authentication credentials" in log[0]["last_body_excerpt"] and log[0]["next_attempt_at"]
    problem(await api.client.delete("/v1/tenant/lrs"), 409, "lrs.pending_deliveries")

    fixed = await api.put("/v1/tenant/lrs", LRS | {"secret": "right"})
    assert fixed.status_code == 200 and fixed.json()["health"]["backlog"] == 3, "the backlog survives the change"
    await deliver(api, database, lrs)  # due at once: no waiting out the backoff
    served = (await api.get("/v1/xapi/statements", params={"limit": 200})).json()["statements"]
    assert sorted(lrs.stored) == sorted(s["id"] for s in served) and len(lrs.stored) == 3, "every statement, once"
    api.clock.advance(hours=1)
    await deliver(api, database, lrs)
    assert lrs.puts == 9, "nothing sent twice"
    healthy = (await api.get("/v1/tenant/lrs")).json()["health"]
    assert healthy["backlog"] == 0 and healthy["last_success_at"] and healthy["failing_since"] is None
    assert healthy["oldest_pending_age_seconds"] is None
    assert {d["status"] for d in (await api.get("/v1/tenant/lrs/deliveries")).json()["items"]} == {"succeeded"}


async def test_a_paused_lrs_keeps_queuing(api: Api, database: Database) -> None:
    await api.put("/v1/tenant/lrs", LRS | {"secret": "right", "active": False})
    lrs = FakeLrs()
    await api.offered()
    await deliver(api, database, lrs)
    assert lrs.puts == 0 and (await api.get("/v1/tenant/lrs")).json()["health"]["backlog"] == 1
    await api.put("/v1/tenant/lrs", LRS | {"secret": "right"})
    await deliver(api, database, lrs)
    assert len(lrs.stored) == 1


async def test_deleting_the_lrs_discards_only_when_asked(api: Api, database: Database) -> None:
    await api.put("/v1/tenant/lrs", LRS)
    await api.offered()
    await api.offered()
    refused = problem(await api.client.delete("/v1/tenant/lrs"), 409, "lrs.pending_deliveries")
    assert refused["pending"] == 2
    assert (await api.get("/v1/tenant/lrs")).status_code == 200, "nothing changed"
    problem(await api.client.delete("/v1/tenant/lrs", params={"discard_pending": "maybe"}), 422)
    dropped = await api.client.delete("/v1/tenant/lrs", params={"discard_pending": "true"})
    assert dropped.status_code == 200 and dropped.json() == {"discarded": 2}
    problem(await api.get("/v1/tenant/lrs"), 404)
    assert len((await api.get("/v1/xapi/statements")).json()["statements"]) == 2, "pull still serves them"
    problem(await api.get("/v1/tenant/lrs/deliveries"), 404)


async def test_one_delivery_retried_by_hand(api: Api, database: Database) -> None:
    await api.put("/v1/tenant/lrs", LRS)
    lrs = FakeLrs()
    await api.offered()
    await deliver(api, database, lrs)
    [delivery] = (await api.get("/v1/tenant/lrs/deliveries")).json()["items"]
    assert delivery["attempts"] == 1 and delivery["statement_id"]
    lrs.secret = "wrong"  # the LRS is fixed on its side
    retried = await api.post(f"/v1/tenant/lrs/deliveries/{delivery['id']}/retry")
    assert retried.status_code == 200 and retried.json()["attempts"] == 0 and retried.json()["status"] == "pending"
    await deliver(api, database, lrs)
    assert list(lrs.stored) == [delivery["statement_id"]]
    problem(await api.post(f"/v1/tenant/lrs/deliveries/{UUID(int=7)}/retry"), 404)
    problem(await api.post("/v1/tenant/lrs/deliveries/nope/retry"), 422)


async def test_another_tenants_lrs_log_is_invisible(api: Api, database: Database) -> None:
    from tests.conftest import make_api, new_tenant

    await api.put("/v1/tenant/lrs", LRS)
    await api.offered()
    [delivery] = (await api.get("/v1/tenant/lrs/deliveries")).json()["items"]
    async with make_api(database, await new_tenant(database)) as other:
        problem(await other.get("/v1/tenant/lrs/deliveries"), 404)
        await other.put("/v1/tenant/lrs", LRS)
        assert (await other.get("/v1/tenant/lrs/deliveries")).json()["items"] == []
        problem(await other.post(f"/v1/tenant/lrs/deliveries/{delivery['id']}/retry"), 404)
        assert (await other.get("/v1/xapi/statements")).json()["statements"] == []


async def test_metrics_show_the_lrs_backlog_and_failures(api: Api, database: Database) -> None:
    await api.put("/v1/tenant/lrs", LRS)
    await api.offered()
    await deliver(api, database, FakeLrs())
    metrics = (await api.get("/metrics")).text
    values = {line.split(" ")[0]: float(line.split(" ")[1]) for line in metrics.splitlines() if line.startswith("stint_lrs_")}
    assert values["stint_lrs_backlog"] >= 1 and values["stint_lrs_failing"] >= 1
    assert "stint_lrs_failing_seconds" in values and "stint_lrs_oldest_pending_seconds" in values
