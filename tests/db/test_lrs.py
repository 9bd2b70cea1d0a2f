"""Against a real learning record store: Ralph (file-system backend), run by these tests on loopback.

Ralph lives in .venv-lrs (`make lrs`; `make test` builds it), since it pins an older FastAPI than Stint's.
Stint's clock is a fake one; only Ralph's start-up is waited for, by polling with a bound."""

from __future__ import annotations

import json
import os
import random
import socket
import subprocess
import time
from collections import Counter
from pathlib import Path
from typing import Any, AsyncIterator, Iterator

import httpx
import pytest

from app.domain.webhooks import RETRY_DELAYS
from app.main import create_app
from app.repositories.clock import SystemClock, Uuid7Ids
from app.repositories.sql.database import Database
from app.services import tenants
from app.services.webhooks import deliver_due
from app.settings import Settings
from app.workers.sender import HttpSender
from tests.conftest import new_tenant
from tests.db.test_xapi import lifecycle, quiet_outbox  # noqa: F401  (quiet_outbox: autouse, other tests' deliveries stay out)
from tests.db.xapi_checks import assert_valid_statement
from tests.support import Api, FakeClock

LRS_BIN = Path(__file__).resolve().parents[2] / ".venv-lrs" / "bin"
RALPH, PYTHON, LAUNCHER = LRS_BIN / "ralph", LRS_BIN / "python", Path(__file__).with_name("ralph_lrs.py")
KEY, SECRET = "stint", "s3cret-for-ralph"
START_TIMEOUT = 60.0


class Ralph:
    """One Ralph LRS process on 127.0.0.1, restartable on the same port and data."""

    def __init__(self, root: Path) -> None:
        self.root, self.data = root, root / "data"
        self.data.mkdir(parents=True, exist_ok=True)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.endpoint = f"http://127.0.0.1:{self.port}/xAPI"
        self.env = os.environ | {
            "RALPH_APP_DIR": str(root / "app"), "RALPH_AUTH_FILE": str(root / "auth.json"), "RALPH_RUNSERVER_BACKEND": "fs",
            "RALPH_BACKENDS__LRS__FS__DEFAULT_DIRECTORY_PATH": str(self.data),
        }
        self.process: subprocess.Popen[bytes] | None = None
        subprocess.run([str(RALPH), "auth", "-u", KEY, "-p", SECRET, "-s", "all", "-A", KEY, "https://stint.example", "-w"],
                       env=self.env, check=True, capture_output=True, timeout=120)

    def start(self) -> None:
        log = open(self.root / "ralph.log", "ab")
        self.process = subprocess.Popen(
            [str(PYTHON), str(LAUNCHER), str(self.port)], env=self.env, stdout=log, stderr=subprocess.STDOUT, cwd=self.root,
        )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            assert self.process.poll() is None, (self.root / "ralph.log").read_text()[-2000:]
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/__heartbeat__", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"Ralph did not start within {START_TIMEOUT:g} s")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=30)
            self.process = None

    def statement(self, statement_id: str) -> dict[str, Any]:
        response = httpx.get(f"{self.endpoint}/statements", params={"statementId": statement_id}, auth=(KEY, SECRET),
                             headers={"X-Experience-API-Version": "1.0.3"}, timeout=10)
        assert response.status_code == 200, response.text
        body = response.json()
        if "statements" in body:  # Ralph's file backend answers a statementId query with a StatementResult
            assert [s["id"] for s in body["statements"]] == [statement_id], body
            return body["statements"][0]
        return body

    def stored_ids(self) -> Counter[str]:
        """Every statement in Ralph's file backend, counted: a duplicate shows as 2."""
        ids: Counter[str] = Counter()
        for path in self.data.glob("*"):
            for line in path.read_text().splitlines():
                if line.strip():
                    ids[json.loads(line)["id"]] += 1
        return ids


@pytest.fixture(scope="module")
def ralph(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ralph]:
    if not RALPH.exists():
        if os.environ.get("CI"):
            pytest.fail("Ralph is not installed: `make lrs` (make test does it first)")
        pytest.skip("Ralph is not installed: run `make lrs` (make test does it first)")
    lrs = Ralph(tmp_path_factory.mktemp("ralph"))
    lrs.start()
    yield lrs
    lrs.stop()


@pytest.fixture
async def stint(database: Database) -> AsyncIterator[Api]:
    """A tenant whose server may push to loopback (where Ralph is)."""
    slug = await new_tenant(database)
    _, secret = await tenants.create_key(database.directory, SystemClock(), Uuid7Ids(), slug, "test", ["admin"])
    clock = FakeClock()
    app = create_app(Settings(database_url="unused://", rate_limit_per_second=0, webhooks_allow_private=True), database=database, clock=clock)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://stint.test",
                                 headers={"Authorization": f"Bearer {secret}"}) as client:
        yield Api(client, clock, slug, database.engine, None)


async def push(api: Api, database: Database) -> None:
    """Deliver what is due until nothing is (one subject's statements go one after another)."""
    async with httpx.AsyncClient() as client:
        sender = HttpSender(client, allow_private=True)
        for _ in range(20):
            report = await deliver_due(database.outbox_uow, sender, api.clock, Uuid7Ids(), random.Random(1), batch_size=200)
            if report.claimed == 0:
                return


async def configure(api: Api, ralph: Ralph, secret: str = SECRET) -> None:
    response = await api.put("/v1/tenant/lrs", {"endpoint": ralph.endpoint, "key": KEY, "secret": secret, "home_page": "https://hr.example.com"})
    assert response.status_code == 200, response.text


async def served(api: Api) -> list[dict[str, Any]]:
    return (await api.get("/v1/xapi/statements", params={"limit": 200})).json()["statements"]


def as_sent(statement: dict[str, Any]) -> dict[str, Any]:
    """What Ralph gives back, less what an LRS adds on storing."""
    return {key: value for key, value in statement.items() if key not in ("stored", "authority", "version")}


async def test_statements_pushed_and_pulled_are_identical(stint: Api, database: Database, ralph: Ralph) -> None:
    await configure(stint, ralph)
    await lifecycle(stint)
    await push(stint, database)
    pulled = await served(stint)
    assert len(pulled) == 6
    for statement in pulled:
        assert_valid_statement(statement)
        assert as_sent(ralph.statement(statement["id"])) == statement
    assert all(ralph.stored_ids()[s["id"]] == 1 for s in pulled)


async def test_a_rename_after_issue_changes_nothing_served(stint: Api, database: Database, ralph: Ralph) -> None:
    await configure(stint, ralph)
    assignment = await lifecycle(stint)
    await push(stint, database)
    before = (await stint.get("/v1/xapi/statements", params={"limit": 200})).text
    renamed = await stint.patch(f"/v1/people/{assignment['assignee_id']}", {"display_name": "Renamed Later"})
    assert renamed.status_code == 200, renamed.text
    assert (await stint.get("/v1/xapi/statements", params={"limit": 200})).text == before
    for delivery in (await stint.get("/v1/tenant/lrs/deliveries")).json()["items"]:  # sent again: the LRS sees the same statement
        assert (await stint.post(f"/v1/tenant/lrs/deliveries/{delivery['id']}/retry")).status_code == 200
    await push(stint, database)
    log = (await stint.get("/v1/tenant/lrs/deliveries")).json()["items"]
    assert {d["status"] for d in log} == {"succeeded"} and {d["last_status_code"] for d in log} == {204}, "no 409 Conflict"
    for statement in json.loads(before)["statements"]:
        assert as_sent(ralph.statement(statement["id"])) == statement


async def test_credentials_fixed_during_a_backlog_lose_nothing(stint: Api, database: Database, ralph: Ralph) -> None:
    await configure(stint, ralph, secret="a-typo")
    await lifecycle(stint)
    await push(stint, database)
    log = (await stint.get("/v1/tenant/lrs/deliveries")).json()["items"]
    assert len(log) == 6 and {d["status"] for d in log} == {"pending"}
    assert {d["last_status_code"] for d in log if d["attempts"]} == {401}, "one subject's statements wait behind its first"
    pulled = await served(stint)
    assert not any(ralph.stored_ids()[s["id"]] for s in pulled)
    await configure(stint, ralph)  # the secret fixed
    for _ in range(3):
        await push(stint, database)
    assert [ralph.stored_ids()[s["id"]] for s in pulled] == [1] * 6, "every statement arrives, once"
    assert (await stint.get("/v1/tenant/lrs")).json()["health"]["backlog"] == 0


async def test_the_lrs_down_for_ten_seconds_loses_and_duplicates_nothing(stint: Api, database: Database, ralph: Ralph) -> None:
    await configure(stint, ralph)
    ralph.stop()
    try:
        await lifecycle(stint)
        for _ in range(2):  # ten seconds of Stint's clock: two rounds of attempts, both refused
            await push(stint, database)
            stint.clock.advance(seconds=RETRY_DELAYS[0].total_seconds() * 1.1)
        health = (await stint.get("/v1/tenant/lrs")).json()["health"]
        assert health["backlog"] == 6 and health["failing_since"] is not None and health["last_failure_status_code"] is None
    finally:
        ralph.start()
    for _ in range(3):
        stint.clock.advance(seconds=RETRY_DELAYS[1].total_seconds() * 1.2)
        await push(stint, database)
    pulled = await served(stint)
    assert [ralph.stored_ids()[s["id"]] for s in pulled] == [1] * 6
    for statement in pulled:
        assert as_sent(ralph.statement(statement["id"])) == statement
    assert (await stint.get("/v1/tenant/lrs")).json()["health"]["failing_since"] is None
