"""Test helpers: a movable clock, statement counting, and an API client that seeds data."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Iterator
from uuid import uuid4

import httpx
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

START = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


class FakeClock:
    def __init__(self, now: datetime = START) -> None:
        self._now = now

    def now(self) -> datetime:
        return self._now

    def advance(self, **delta: float) -> datetime:
        self._now += timedelta(**delta)
        return self._now

    def set(self, when: datetime) -> None:
        self._now = when


def iso(when: datetime) -> str:
    return when.astimezone(UTC).isoformat().replace("+00:00", "Z")


@dataclass
class StatementLog:
    statements: list[str] = field(default_factory=list)

    @property
    def count(self) -> int:
        """Statements sent, not counting transaction control."""
        return sum(1 for s in self.statements if s.split(None, 1)[0].upper() not in {"BEGIN", "COMMIT", "ROLLBACK"})


@contextlib.contextmanager
def count_statements(engine: AsyncEngine) -> Iterator[StatementLog]:
    log = StatementLog()

    def before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        log.statements.append(statement.strip())

    event.listen(engine.sync_engine, "before_cursor_execute", before)
    try:
        yield log
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", before)


RUBRIC = {
    "criteria": [
        {"key": "correctness", "title": "Correctness", "weight": 3,
         "levels": [{"score": 0, "label": "Wrong"}, {"score": 1, "label": "Partly"}, {"score": 2, "label": "Right"}]},
        {"key": "clarity", "title": "Clarity", "weight": 1,
         "levels": [{"score": 0, "label": "Unclear"}, {"score": 4, "label": "Clear"}]},
    ],
    "pass_score": 60,
}


@dataclass
class Api:
    """An httpx client on one fresh tenant, with helpers that create what a test needs."""

    client: httpx.AsyncClient
    clock: FakeClock
    tenant_slug: str
    engine: AsyncEngine
    make_key: Any

    async def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        return await self.client.request(method, url, **kwargs)

    async def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return await self.client.get(url, **kwargs)

    async def post(self, url: str, json: Any = None, **kwargs: Any) -> httpx.Response:
        return await self.client.post(url, json=json, **kwargs)

    async def patch(self, url: str, json: Any = None, **kwargs: Any) -> httpx.Response:
        return await self.client.patch(url, json=json, **kwargs)

    async def put(self, url: str, json: Any = None, **kwargs: Any) -> httpx.Response:
        return await self.client.put(url, json=json, **kwargs)

    async def created(self, url: str, body: dict[str, Any]) -> dict[str, Any]:
        response = await self.post(url, body)
        assert response.status_code == 201, response.text
        return response.json()

    async def person(self, **fields: Any) -> dict[str, Any]:
        body = {"external_id": f"hr-{uuid4().hex[:10]}", "display_name": "Someone"} | fields
        return await self.created("/v1/people", body)

    async def skill(self, **fields: Any) -> dict[str, Any]:
        body = {
            "key": f"skill-{uuid4().hex[:8]}", "name": "SQL tuning",
            "levels": [{"level": 1, "name": "Basic"}, {"level": 2, "name": "Working"}, {"level": 3, "name": "Expert"}],
        } | fields
        return await self.created("/v1/skills", body)

    async def brief(self, *, publish: bool = True, **fields: Any) -> dict[str, Any]:
        if "skill_id" not in fields:
            fields["skill_id"] = (await self.skill())["id"]
        body = {
            "title": "Speed up the weekly report query", "instructions": "Find the slow join and fix it.",
            "target_level": 2, "timebox": "PT3H", "rubric": RUBRIC,
        } | fields
        brief = await self.created("/v1/briefs", body)
        if publish:
            response = await self.post(f"/v1/briefs/{brief['id']}/publish")
            assert response.status_code == 200, response.text
            brief = response.json()
        return brief

    async def team(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """A manager and their direct report."""
        manager = await self.person(display_name="Maria Manager")
        report = await self.person(display_name="Pat Report", manager_id=manager["id"])
        return manager, report

    async def offered(self, **fields: Any) -> dict[str, Any]:
        """An assignment in state `offered`, with a fresh brief, assignee and manager-reviewer."""
        if "brief_id" not in fields:
            brief_fields = fields.pop("brief", {})
            fields["brief_id"] = (await self.brief(**brief_fields))["id"]
        if "assignee_id" not in fields:
            _, report = await self.team()
            fields["assignee_id"] = report["id"]
        return await self.created("/v1/assignments", fields)

    async def act(self, assignment_id: str, action: str, body: Any = None, *, expect: int = 200, **kwargs: Any) -> dict[str, Any]:
        response = await self.post(f"/v1/assignments/{assignment_id}/{action}", body, **kwargs)
        assert response.status_code == expect, response.text
        return response.json()

    async def accepted(self, **fields: Any) -> dict[str, Any]:
        assignment = await self.offered(**fields)
        return await self.act(assignment["id"], "accept")

    async def submitted(self, **fields: Any) -> dict[str, Any]:
        assignment = await self.accepted(**fields)
        await self.act(assignment["id"], "submissions", {"body": "Added an index on (week, account_id)."}, expect=201)
        return (await self.get(f"/v1/assignments/{assignment['id']}")).json()

    async def assignment(self, assignment_id: str) -> dict[str, Any]:
        response = await self.get(f"/v1/assignments/{assignment_id}")
        assert response.status_code == 200, response.text
        return response.json()

    async def events(self, assignment_id: str) -> list[dict[str, Any]]:
        response = await self.get(f"/v1/assignments/{assignment_id}/events", params={"limit": 200})
        assert response.status_code == 200, response.text
        return response.json()["items"]


PASSING_SCORES = [{"criterion": "correctness", "score": 2}, {"criterion": "clarity", "score": 4}]


def problem(response: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    """Assert a problem+json response with this status (and code); return its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json"), response.headers
    body = response.json()
    for member in ("type", "title", "status", "detail", "instance", "code"):
        assert member in body, body
    assert body["status"] == status
    if code is not None:
        assert body["code"] == code, body
    return body


class Signer:
    """A key pair of one algorithm that mints tokens the way an identity provider would."""

    def __init__(self, alg: str, kid: str) -> None:
        import jwt
        from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

        self.alg, self.kid = alg, kid
        if alg == "RS256":
            self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            self.jwk = jwt.algorithms.RSAAlgorithm.to_jwk(self.private.public_key(), as_dict=True)
        elif alg == "ES256":
            self.private = ec.generate_private_key(ec.SECP256R1())
            self.jwk = jwt.algorithms.ECAlgorithm.to_jwk(self.private.public_key(), as_dict=True)
        else:
            self.private = ed25519.Ed25519PrivateKey.generate()
            self.jwk = jwt.algorithms.OKPAlgorithm.to_jwk(self.private.public_key(), as_dict=True)
        self.jwk |= {"kid": kid, "use": "sig"}

    @property
    def public_pem(self) -> str:
        from cryptography.hazmat.primitives import serialization

        return self.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode()

    def token(self, claims: dict[str, Any], *, now: datetime, kid: str | None = "same", **header: Any) -> str:
        import jwt

        body = {"iss": ISSUER, "aud": AUDIENCE, "iat": int(now.timestamp()), "exp": int((now + timedelta(minutes=10)).timestamp())} | claims
        headers = {"kid": self.kid if kid == "same" else kid} if kid is not None else {}
        return jwt.encode({k: v for k, v in body.items() if v is not None}, self.private, algorithm=self.alg, headers=headers | header)


ISSUER = "https://login.example.com/"
AUDIENCE = "stint-frontend"


def jwks(*signers: Signer) -> dict[str, Any]:
    return {"keys": [signer.jwk for signer in signers]}
