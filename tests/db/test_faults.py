"""Database faults: cut connections give a quick 503 problem+json, then the service recovers by itself."""

from __future__ import annotations

import time

from sqlalchemy import text

from app.repositories.sql.database import Database, make_engine
from tests.conftest import POSTGRES_URL
from tests.support import Api, problem


async def test_an_unreachable_database_is_a_quick_503_and_readyz_says_so(api: Api) -> None:
    """A database that refuses connections (nothing listens on the port) stands in for a stopped server."""
    from app.main import create_app
    from app.settings import Settings
    import httpx

    url = "postgresql+asyncpg://postgres@127.0.0.1:9/nowhere" if POSTGRES_URL else "sqlite+aiosqlite:////nonexistent/dir/x.db"
    down = Database(make_engine(url, connect_timeout=1))
    app = create_app(Settings(database_url="unused://", rate_limit_per_second=0), database=down)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://stint.test") as client:
        started = time.perf_counter()
        refused = await client.get("/v1/people", headers={"Authorization": "Bearer stint_anything"})
        elapsed = time.perf_counter() - started
        body = problem(refused, 503, "database_unavailable")
        assert refused.headers["retry-after"] and elapsed < 3 and "database" in body["detail"]
        problem(await client.get("/readyz"), 503, "database_unavailable")
        assert (await client.get("/healthz")).status_code == 200, "the process is alive all the same"
    await down.dispose()


if POSTGRES_URL:  # cutting live connections needs a server to cut them on

    async def test_cut_connections_give_503_then_recover_with_nothing_half_written(api: Api, database: Database) -> None:
        assignment = await api.offered()
        assert (await api.get(f"/v1/assignments/{assignment['id']}")).status_code == 200  # the pool holds live connections

        async def cut() -> None:
            admin = make_engine(POSTGRES_URL)
            async with admin.connect() as conn:
                await conn.execute(text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                ))
            await admin.dispose()

        await cut()
        accepted = await api.post(f"/v1/assignments/{assignment['id']}/accept")
        assert accepted.status_code in (200, 503), accepted.text
        if accepted.status_code == 503:
            problem(accepted, 503, "database_unavailable")
        statuses = [(await api.get(f"/v1/assignments/{assignment['id']}")).status_code for _ in range(3)]
        assert statuses[-1] == 200 and set(statuses) <= {200, 503}, "recovers with no restart"
        state = (await api.assignment(assignment["id"]))["state"]
        events = [e["type"] for e in await api.events(assignment["id"])]
        if accepted.status_code == 200:
            assert (state, events) == ("accepted", ["assignment.offered", "assignment.accepted"])
        else:  # the cut transaction rolled back whole: no state without its event, no event without its state
            assert (state, events) == ("offered", ["assignment.offered"])
        assert (await api.get("/readyz")).status_code == 200


async def test_a_client_that_disconnects_mid_request_leaves_nothing_written(api: Api) -> None:
    """The body never fully arrives: the request is abandoned before any unit of work begins."""
    import asyncio

    app = api.client._transport.app  # type: ignore[attr-defined]  # the app behind the test client
    body = b'{"external_id": "gone-1", "display_name": "Half"}'
    messages = [{"type": "http.request", "body": body[:10], "more_body": True}, {"type": "http.disconnect"}]
    sent: list[dict] = []

    async def receive() -> dict:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
        "path": "/v1/people", "raw_path": b"/v1/people", "query_string": b"", "root_path": "",
        "headers": [(b"host", b"stint.test"), (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"authorization", api.client.headers["authorization"].encode())],
        "client": ("127.0.0.1", 1), "server": ("stint.test", 80),
    }
    try:
        await asyncio.wait_for(app(scope, receive, send), timeout=5)
    except Exception:  # however the server gives up on a vanished client, nothing may be written
        pass
    people = (await api.get("/v1/people", params={"limit": 200})).json()["items"]
    assert "gone-1" not in [p["external_id"] for p in people]
    events = (await api.get("/v1/events", params={"type": "person.created", "limit": 200})).json()["items"]
    assert "gone-1" not in [e["data"].get("external_id") for e in events]
