"""People sign in with their identity provider's token: every refusal, and what they then see."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest

from app.main import create_app
from app.repositories.clock import SystemClock
from app.repositories.sql.database import Database
from app.services import tenants
from app.settings import Settings
from tests.conftest import make_api, new_tenant
from tests.support import AUDIENCE, Api, FakeClock, Signer, count_statements, iso, jwks, problem

RSA, EC, ED = Signer("RS256", "rsa-1"), Signer("ES256", "ec-1"), Signer("EdDSA", "ed-1")


@dataclass
class Org:
    """A tenant whose identity provider trusts RSA, EC and Ed keys, with a small org chart."""

    api: Api
    issuer: str
    people: dict[str, dict[str, Any]]

    def token(self, who: str | None = None, signer: Signer = RSA, **claims: Any) -> str:
        subject = {"sub": self.people[who]["external_id"]} if who else {}
        return signer.token({"iss": self.issuer} | subject | claims, now=self.api.clock.now())

    async def as_(self, who: str, method: str, url: str, **kwargs: Any) -> httpx.Response:
        return await self.api.client.request(method, url, headers={"Authorization": f"Bearer {self.token(who)}"}, **kwargs)


async def configure(database: Database, slug: str, **source: Any) -> str:
    issuer = f"https://login.example.com/{slug}/"
    await tenants.set_identity_provider(database.directory, SystemClock(), slug, issuer=issuer, audience=AUDIENCE, **source)
    return issuer


async def build_org(api: Api, database: Database, **source: Any) -> Org:
    issuer = await configure(database, api.tenant_slug, **(source or {"jwks": jwks(RSA, EC, ED)}))
    admin = await api.person(display_name="Ada Admin", is_admin=True, email="ada@example.com")
    boss = await api.person(display_name="Bo Director")
    manager = await api.person(display_name="Maria Manager", manager_id=boss["id"])
    assignee = await api.person(display_name="Pat Assignee", manager_id=manager["id"])
    reviewer = await api.person(display_name="Rey Reviewer")
    colleague = await api.person(display_name="Cy Colleague")
    people = dict(admin=admin, boss=boss, manager=manager, assignee=assignee, reviewer=reviewer, colleague=colleague)
    return Org(api, issuer, people)


@pytest.fixture
async def org(api: Api, database: Database) -> Org:
    return await build_org(api, database)


@pytest.mark.parametrize("signer", [RSA, EC, ED], ids=["RS256", "ES256", "EdDSA"])
async def test_a_person_signs_in_with_each_algorithm(org: Org, signer: Signer) -> None:
    response = await org.api.client.get("/v1/me", headers={"Authorization": f"Bearer {org.token('assignee', signer)}"})
    assert response.status_code == 200, response.text
    me = response.json()
    assert me["person"]["id"] == org.people["assignee"]["id"]
    assert me["manager"]["id"] == org.people["manager"]["id"]
    assert me["is_admin"] is False


def _unsigned(claims: dict[str, Any]) -> str:
    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


def _hs256_with_public_key(org: Org) -> str:
    """The classic confusion attack: sign with HMAC using the public key as the secret."""
    import hmac
    import hashlib

    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

    now = int(org.api.clock.now().timestamp())
    head = part({"alg": "HS256", "typ": "JWT", "kid": RSA.kid})
    body = part({"iss": org.issuer, "aud": AUDIENCE, "sub": org.people["assignee"]["external_id"], "exp": now + 600})
    mac = hmac.new(RSA.public_pem.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{base64.urlsafe_b64encode(mac).decode().rstrip('=')}"


async def test_every_bad_token_is_401_invalid_token(org: Org) -> None:
    now = org.api.clock.now()
    sub = {"sub": org.people["assignee"]["external_id"]}
    other = Signer("RS256", "rsa-1")  # same kid, different key
    bad = {
        "alg none": _unsigned({"iss": org.issuer, "aud": AUDIENCE, "exp": int(now.timestamp()) + 600} | sub),
        "HS256 with the public key": _hs256_with_public_key(org),
        "wrong issuer": RSA.token({"iss": "https://evil.example.com/"} | sub, now=now),
        "wrong audience": RSA.token({"iss": org.issuer, "aud": "someone-else"} | sub, now=now),
        "expired beyond leeway": RSA.token({"iss": org.issuer, "exp": int((now - timedelta(seconds=61)).timestamp())} | sub, now=now),
        "not valid yet": RSA.token({"iss": org.issuer, "nbf": int((now + timedelta(minutes=5)).timestamp())} | sub, now=now),
        "no expiry": RSA.token({"iss": org.issuer, "exp": None} | sub, now=now),
        "unknown kid": RSA.token({"iss": org.issuer} | sub, now=now, kid="who-knows"),
        "forged signature": other.token({"iss": org.issuer} | sub, now=now),
        "no such person": RSA.token({"iss": org.issuer, "sub": "nobody"}, now=now),
        "garbage": "not.a.jwt",
    }
    for name, token in bad.items():
        response = await org.api.client.get("/v1/me", headers={"Authorization": f"Bearer {token}"})
        body = problem(response, 401, "unauthenticated")
        assert 'error="invalid_token"' in response.headers["www-authenticate"], name
        assert body["detail"], name


async def test_clock_leeway_is_sixty_seconds(org: Org) -> None:
    now = org.api.clock.now()
    sub = {"sub": org.people["assignee"]["external_id"], "iss": org.issuer}
    just_expired = RSA.token(sub | {"exp": int((now - timedelta(seconds=30)).timestamp())}, now=now)
    soon_valid = RSA.token(sub | {"nbf": int((now + timedelta(seconds=30)).timestamp())}, now=now)
    for token in (just_expired, soon_valid):
        assert (await org.api.client.get("/v1/me", headers={"Authorization": f"Bearer {token}"})).status_code == 200


async def test_a_deactivated_person_is_refused_at_once(org: Org) -> None:
    token = org.token("assignee")
    assert (await org.api.client.get("/v1/me", headers={"Authorization": f"Bearer {token}"})).status_code == 200
    await org.api.patch(f"/v1/people/{org.people['assignee']['id']}", {"active": False})
    problem(await org.api.client.get("/v1/me", headers={"Authorization": f"Bearer {token}"}), 401, "unauthenticated")


async def test_email_claims_and_pem_keys(api: Api, database: Database) -> None:
    issuer = await configure(database, api.tenant_slug, pem_keys=(EC.public_pem, ED.public_pem), claim="email", match="email")
    person = await api.person(email="Lee@Example.com")
    token = ED.token({"iss": issuer, "email": "lee@example.com"}, now=api.clock.now(), kid=None)
    response = await api.client.get("/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200 and response.json()["person"]["id"] == person["id"]
    rsa_token = RSA.token({"iss": issuer, "email": "lee@example.com"}, now=api.clock.now(), kid=None)
    problem(await api.client.get("/v1/me", headers={"Authorization": f"Bearer {rsa_token}"}), 401)


async def test_a_jwks_url_is_fetched_cached_and_refreshed_for_a_new_kid(database: Database) -> None:
    slug = await new_tenant(database)
    served = {"doc": jwks(RSA), "fetches": 0}

    def stub(request: httpx.Request) -> httpx.Response:
        served["fetches"] += 1
        return httpx.Response(200, json=served["doc"])

    issuer = await configure(database, slug, jwks_url="https://login.example.com/.well-known/jwks.json")
    clock = FakeClock()
    app = create_app(
        Settings(database_url="unused://", jwks_min_refresh_seconds=0, rate_limit_per_second=0), database=database, clock=clock,
        http=httpx.AsyncClient(transport=httpx.MockTransport(stub)),
    )
    async with make_api(database, slug, clock=clock) as admin:
        person = await admin.person()
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://stint.test")
    sub = {"iss": issuer, "sub": person["external_id"]}

    async def me(token: str) -> int:
        return (await client.get("/v1/me", headers={"Authorization": f"Bearer {token}"})).status_code

    assert await me(RSA.token(sub, now=clock.now())) == 200
    assert await me(RSA.token(sub, now=clock.now())) == 200
    assert served["fetches"] == 1, "the JWKS is cached"
    rotated = Signer("ES256", "ec-rotated")
    served["doc"] = jwks(RSA, rotated)
    assert await me(rotated.token(sub, now=clock.now())) == 200, "an unknown kid triggers one re-fetch"
    assert served["fetches"] == 2
    assert await me(RSA.token(sub, now=clock.now(), kid="never-published")) == 401
    await client.aclose()


async def test_acting_for_a_person_needs_act_as_and_is_recorded(org: Org) -> None:
    api = org.api
    brief = await api.brief()
    offered = await api.created("/v1/assignments", {"brief_id": brief["id"], "assignee_id": org.people["assignee"]["id"]})
    integration = await api.make_key(["assignments:write", "act_as"])
    plain = await api.make_key(["assignments:write"])
    assignee = {"Stint-Acting-For": org.people["assignee"]["id"]}
    problem(await api.client.post(f"/v1/assignments/{offered['id']}/accept", headers={"Authorization": f"Bearer {plain}"} | assignee), 403, "forbidden.missing_scope")
    as_reviewer = {"Stint-Acting-For": org.people["reviewer"]["id"], "Authorization": f"Bearer {integration}"}
    problem(await api.client.post(f"/v1/assignments/{offered['id']}/accept", headers=as_reviewer), 404)
    accepted = await api.client.post(f"/v1/assignments/{offered['id']}/accept", headers={"Authorization": f"Bearer {integration}"} | assignee)
    assert accepted.status_code == 200, accepted.text
    event = (await api.events(offered["id"]))[-1]
    assert event["type"] == "assignment.accepted"
    assert event["actor"]["type"] == "api_key" and event["actor"]["on_behalf_of"] == org.people["assignee"]["id"]
    token = {"Authorization": f"Bearer {org.token('manager')}"} | assignee
    problem(await api.client.get("/v1/me", headers=token), 403, "forbidden.acting_for")
    unknown = {"Authorization": f"Bearer {integration}", "Stint-Acting-For": "01a20f43-0000-7000-8000-000000000000"}
    problem(await api.client.get("/v1/me", headers=unknown), 422, "acting_for.unknown_person")


async def test_only_an_admin_makes_admins(org: Org) -> None:
    hris = await org.api.make_key(["people:write"])
    response = await org.api.client.patch(
        f"/v1/people/{org.people['colleague']['id']}", json={"is_admin": True}, headers={"Authorization": f"Bearer {hris}"}
    )
    problem(response, 403, "forbidden.admin_only")
    promoted = await org.as_("admin", "PATCH", f"/v1/people/{org.people['colleague']['id']}", json={"is_admin": True})
    assert promoted.status_code == 200 and promoted.json()["is_admin"] is True


async def test_my_assignments_come_nearest_deadline_first(org: Org) -> None:
    api = org.api
    assignee = org.people["assignee"]["id"]
    brief = await api.brief()
    far = await api.created("/v1/assignments", {"brief_id": brief["id"], "assignee_id": assignee, "offer_expires_at": iso(api.clock.now() + timedelta(days=5))})
    near = await api.created("/v1/assignments", {"brief_id": brief["id"], "assignee_id": assignee, "offer_expires_at": iso(api.clock.now() + timedelta(days=1))})
    running = await api.created("/v1/assignments", {"brief_id": brief["id"], "assignee_id": assignee})
    await api.act(running["id"], "accept")  # due in 3 hours
    done = await api.created("/v1/assignments", {"brief_id": brief["id"], "assignee_id": assignee})
    await api.act(done["id"], "decline")
    await api.created("/v1/assignments", {"brief_id": brief["id"], "assignee_id": org.people["colleague"]["id"], "reviewer_id": org.people["manager"]["id"]})

    pages, cursor = [], None
    while True:
        response = await org.as_("assignee", "GET", "/v1/me/assignments", params={"limit": 2} | ({"cursor": cursor} if cursor else {}))
        assert response.status_code == 200, response.text
        pages.append([a["id"] for a in response.json()["items"]])
        cursor = response.json()["next_cursor"]
        if cursor is None:
            break
    assert [i for page in pages for i in page] == [running["id"], near["id"], far["id"], done["id"]]
    offered = (await org.as_("assignee", "GET", "/v1/me/assignments", params={"state": "offered"})).json()["items"]
    assert [a["id"] for a in offered] == [near["id"], far["id"]]
    assert offered[0]["allowed_actions"] == ["accept", "decline"], "the assignee may not withdraw their own offer"


async def test_my_review_queue_oldest_due_first_with_waiting_time(org: Org) -> None:
    api = org.api
    reviewer = org.people["reviewer"]["id"]
    brief = await api.brief()
    first = await api.submitted(brief_id=brief["id"], assignee_id=org.people["assignee"]["id"], reviewer_id=reviewer)
    api.clock.advance(hours=1)
    second = await api.submitted(brief_id=brief["id"], assignee_id=org.people["colleague"]["id"], reviewer_id=reviewer)
    await api.submitted(brief_id=brief["id"], assignee_id=org.people["assignee"]["id"])  # for the manager, not me
    api.clock.advance(minutes=30)
    queue = (await org.as_("reviewer", "GET", "/v1/me/reviews")).json()["items"]
    assert [(q["id"], q["waited"]) for q in queue] == [(first["id"], "PT1H30M"), (second["id"], "PT30M")]
    assert queue[0]["allowed_actions"] == ["review"]


async def test_my_team_counts_open_work_at_every_depth(org: Org) -> None:
    api = org.api
    brief = await api.brief()
    await api.offered(brief_id=brief["id"], assignee_id=org.people["assignee"]["id"])
    accepted = await api.accepted(brief_id=brief["id"], assignee_id=org.people["assignee"]["id"])
    declined = await api.offered(brief_id=brief["id"], assignee_id=org.people["manager"]["id"], reviewer_id=org.people["boss"]["id"])
    await api.act(declined["id"], "decline")
    team = (await org.as_("boss", "GET", "/v1/me/team")).json()["items"]
    assert sorted((m["person"]["id"], m["depth"], m["open_assignments"]) for m in team) == sorted([
        (org.people["manager"]["id"], 1, 0), (org.people["assignee"]["id"], 2, 2),
    ])
    assert accepted["state"] == "accepted"
    assert (await org.as_("colleague", "GET", "/v1/me/team")).json()["items"] == []


async def test_what_a_manager_sees(org: Org) -> None:
    api = org.api
    mine = await api.offered(assignee_id=org.people["assignee"]["id"])
    theirs = await api.offered(assignee_id=org.people["colleague"]["id"], reviewer_id=org.people["admin"]["id"])
    seen = [a["id"] for a in (await org.as_("boss", "GET", "/v1/assignments")).json()["items"]]
    assert mine["id"] in seen and theirs["id"] not in seen, "a manager sees work below them, at any depth"
    people = {p["id"] for p in (await org.as_("manager", "GET", "/v1/people", params={"limit": 200})).json()["items"]}
    assert people == {org.people[k]["id"] for k in ("boss", "manager", "assignee")}
    drafts = await api.brief(publish=False)
    problem(await org.as_("assignee", "GET", f"/v1/briefs/{drafts['id']}"), 404)
    listed = {b["id"] for b in (await org.as_("assignee", "GET", "/v1/briefs", params={"limit": 200})).json()["items"]}
    assert drafts["id"] not in listed and mine["brief_id"] in listed


async def test_identity_provider_is_readable_by_admins(org: Org) -> None:
    response = await org.api.get("/v1/tenant/identity-provider")
    assert response.status_code == 200
    assert (response.json()["issuer"], response.json()["audience"], response.json()["claim"]) == (org.issuer, AUDIENCE, "sub")
    problem(await org.as_("manager", "GET", "/v1/tenant/identity-provider"), 403)


async def test_acting_for_an_admin_never_exceeds_the_keys_own_scopes(org: Org) -> None:
    """Found in review: a key holding only act_as, acting for an admin, could create webhooks and admins."""
    only_act_as = await org.api.make_key(["act_as"])
    as_admin = {"Authorization": f"Bearer {only_act_as}", "Stint-Acting-For": org.people["admin"]["id"]}
    problem(await org.api.client.post("/v1/webhooks", json={"url": "https://crm.example.com/x"}, headers=as_admin), 403)
    problem(await org.api.client.post("/v1/people", json={"external_id": "x9", "display_name": "X", "is_admin": True}, headers=as_admin), 403)
    problem(await org.api.client.get("/v1/assignments", headers=as_admin), 403)


async def test_people_see_the_published_brief_not_the_draft_in_progress(org: Org) -> None:
    """Found in review: a person saw an admin's unpublished edit of a published brief."""
    brief = await org.api.brief()
    await org.api.patch(f"/v1/briefs/{brief['id']}", {"title": "DRAFT: not for everyone yet"})
    seen = (await org.as_("assignee", "GET", f"/v1/briefs/{brief['id']}")).json()
    assert (seen["title"], seen["revision"]) == (brief["title"], 1)
    listed = [b for b in (await org.as_("assignee", "GET", "/v1/briefs", params={"limit": 200})).json()["items"] if b["id"] == brief["id"]]
    assert listed[0]["title"] == brief["title"]
    assert (await org.api.get(f"/v1/briefs/{brief['id']}")).json()["title"] == "DRAFT: not for everyone yet"


async def test_crafted_cursors_are_400(org: Org) -> None:
    """Found in review: an enormous feed position and a deadline without a timezone were 500s."""
    import base64 as b64

    def cursor(value: Any) -> str:
        return b64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

    problem(await org.api.get("/v1/events", params={"after": cursor(10**30)}), 400, "invalid_cursor")
    problem(await org.api.get("/v1/xapi/statements", params={"cursor": cursor(-1)}), 400, "invalid_cursor")
    naive = cursor(["2026-11-24T09:00:00", "01a20f43-0000-7000-8000-000000000000"])
    problem(await org.as_("assignee", "GET", "/v1/me/assignments", params={"cursor": naive}), 400, "invalid_cursor")


async def test_a_deactivated_person_is_refused_at_once_on_their_own_work_too(org: Org) -> None:
    """/v1/me/assignments reads the person with their work (one statement on PostgreSQL): still refused at once."""
    token = org.token("assignee")
    urls = ("/v1/me", "/v1/me/assignments", "/v1/me/assignments?state=offered", "/v1/me/reviews")
    for url in urls:
        assert (await org.api.client.get(url, headers={"Authorization": f"Bearer {token}"})).status_code == 200, url
    await org.api.patch(f"/v1/people/{org.people['assignee']['id']}", {"active": False})
    for url in urls:
        problem(await org.api.client.get(url, headers={"Authorization": f"Bearer {token}"}), 401, "unauthenticated")
    await org.api.patch(f"/v1/people/{org.people['assignee']['id']}", {"active": True})
    assert (await org.api.client.get("/v1/me/assignments", headers={"Authorization": f"Bearer {token}"})).status_code == 200


async def test_a_person_with_no_work_gets_an_empty_page_and_an_unknown_subject_401(org: Org) -> None:
    response = await org.as_("colleague", "GET", "/v1/me/assignments")
    assert response.status_code == 200 and response.json() == {"items": [], "next_cursor": None}
    stranger = RSA.token({"iss": org.issuer, "sub": "nobody-here"}, now=org.api.clock.now())
    problem(await org.api.client.get("/v1/me/assignments", headers={"Authorization": f"Bearer {stranger}"}), 401, "unauthenticated")


async def test_my_finished_work_pages_by_id_after_the_work_facing_a_deadline(org: Org) -> None:
    api = org.api
    assignee = org.people["assignee"]["id"]
    brief = await api.brief()
    open_offer = await api.created("/v1/assignments", {"brief_id": brief["id"], "assignee_id": assignee})
    finished = []
    for _ in range(3):
        declined = await api.created("/v1/assignments", {"brief_id": brief["id"], "assignee_id": assignee})
        await api.act(declined["id"], "decline")
        finished.append(declined["id"])
    seen, cursor = [], None
    while True:  # one item a page: the cursors after the finished ones carry no deadline
        response = await org.as_("assignee", "GET", "/v1/me/assignments", params={"limit": 1} | ({"cursor": cursor} if cursor else {}))
        assert response.status_code == 200, response.text
        seen += [a["id"] for a in response.json()["items"]]
        cursor = response.json()["next_cursor"]
        if cursor is None:
            break
    assert seen == [open_offer["id"], *sorted(finished)]
    assert seen == [a["id"] for a in (await org.as_("assignee", "GET", "/v1/me/assignments")).json()["items"]]
    via_key = await api.get("/v1/me/assignments", headers={"Stint-Acting-For": assignee})
    assert [a["id"] for a in via_key.json()["items"]] == seen, "a key acting for the person sees the same"


async def test_my_assignments_is_one_statement_on_postgresql(org: Org) -> None:
    """The person's freshness and their work come in one round trip once the identity provider is known."""
    await org.api.created("/v1/assignments", {"brief_id": (await org.api.brief())["id"], "assignee_id": org.people["assignee"]["id"]})
    token = org.token("assignee")
    assert (await org.api.client.get("/v1/me/assignments", headers={"Authorization": f"Bearer {token}"})).status_code == 200
    with count_statements(org.api.engine) as log:
        response = await org.api.client.get("/v1/me/assignments", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200 and len(response.json()["items"]) == 1
    assert log.count == (1 if org.api.engine.dialect.name == "postgresql" else 2), log.statements
