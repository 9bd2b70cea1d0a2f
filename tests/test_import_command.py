"""`stint import`: a file into a running service in batches, over HTTP, resumable after a crash."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.cli import main
from app.domain.imports import ImportKind
from app.importer import ImportAborted, Importer
from tests.support import Api

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


async def no_sleep(seconds: float) -> None:
    return None


class Flaky(httpx.AsyncBaseTransport):
    """Passes requests to the app; from the `fail_from`-th batch POST on, fails them: before the server
    sees the request (`when="before"`), or after it has answered (`when="after"`, the answer is lost)."""

    def __init__(self, inner: httpx.AsyncBaseTransport, fail_from: int, when: str = "before", times: int = 10**6) -> None:
        self.inner, self.fail_from, self.when, self.times = inner, fail_from, when, times
        self.posts = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method != "POST":
            return await self.inner.handle_async_request(request)
        self.posts += 1
        failing = self.posts >= self.fail_from and self.times > 0
        if failing and self.when == "before":
            self.times -= 1
            raise httpx.ConnectError("connection refused", request=request)
        response = await self.inner.handle_async_request(request)
        if failing:
            self.times -= 1
            await response.aread()
            raise httpx.ReadError("connection reset", request=request)
        return response


def client_like(api: Api, transport: httpx.AsyncBaseTransport | None = None) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=transport or api.client._transport, base_url=api.client.base_url, headers=api.client.headers)


def copy(tmp_path: Path, name: str) -> Path:
    target = tmp_path / name
    shutil.copy(EXAMPLES / name, target)
    return target


async def people(api: Api) -> dict[str, dict[str, Any]]:
    return {p["external_id"]: p for p in (await api.get("/v1/people", params={"limit": 200})).json()["items"]}


async def test_the_examples_go_in_and_a_second_run_changes_nothing(api: Api, tmp_path: Path) -> None:
    for name, kind, count in (("people.csv", "people", 11), ("people.ndjson", "people", 2), ("skills.csv", "skills", 3),
                              ("briefs.csv", "briefs", 2), ("assignments.csv", "assignments", 3)):
        path = copy(tmp_path, name)
        summary = await Importer(api.client, path, ImportKind(kind), batch_size=4, sleep=no_sleep).run()
        assert (summary.rows, summary.counts["created"], summary.errors_path) == (count, count, None), (name, summary)
        again = await Importer(api.client, path, ImportKind(kind), batch_size=4, sleep=no_sleep).run()
        assert again.counts == {"created": 0, "updated": 0, "unchanged": count, "error": 0}, (name, again)
    found = await people(api)
    assert found["wd-1009"]["manager_id"] == found["wd-1010"]["id"], "a manager later in the file is found"
    assert found["wd-1007"]["display_name"] == "Noor, Al-Hassan" and found["wd-1011"]["active"] is False
    offers = (await api.get("/v1/assignments")).json()["items"]
    assert sorted(o["external_ref"] for o in offers) == sorted(
        ["2026-q4:wd-1003:weekly-report", "2026-q4:wd-1004:weekly-report", "2026-q4:wd-1009:postmortem"])


async def test_refused_rows_land_in_an_errors_file_with_the_row_as_written(api: Api, tmp_path: Path) -> None:
    path = tmp_path / "hr.csv"
    path.write_text("external_id,display_name,email\nok-1,Fine,\nbad-1,Bad,not-an-email\nbad-2,\"Too\",\"x\",extra\nok-2,Fine too,\n")
    summary = await Importer(api.client, path, ImportKind.PEOPLE, sleep=no_sleep).run()
    assert summary.counts == {"created": 2, "updated": 0, "unchanged": 0, "error": 2}
    assert summary.errors_path == tmp_path / "hr.csv.errors.csv"
    rows = list(csv.reader(summary.errors_path.open()))
    assert rows[0] == ["line", "code", "fields", "detail", "external_id", "display_name", "email"]
    assert [r[:3] for r in rows[1:]] == [["3", "validation_failed", "email"], ["4", "validation_failed", ""]]
    assert rows[1][4:] == ["bad-1", "Bad", "not-an-email"]


async def test_a_crash_resumes_after_the_last_acknowledged_batch(api: Api, tmp_path: Path) -> None:
    path = tmp_path / "many.csv"
    path.write_text("external_id,display_name\n" + "".join(f"e-{i:03d},Person {i}\n" for i in range(50)))
    broken = client_like(api, Flaky(api.client._transport, fail_from=3))
    with pytest.raises(ImportAborted):
        await Importer(broken, path, ImportKind.PEOPLE, batch_size=10, sleep=no_sleep).run()
    assert len(await people(api)) == 20, "two batches went in before the network went away"

    lossy = client_like(api, Flaky(api.client._transport, fail_from=2, when="after", times=1))
    summary = await Importer(lossy, path, ImportKind.PEOPLE, batch_size=10, sleep=no_sleep).run()
    assert summary.resumed_from == 2 and summary.rows == 50
    assert summary.counts == {"created": 50, "updated": 0, "unchanged": 0, "error": 0}, \
        "the batch whose answer was lost was answered again, not applied again"
    assert len(await people(api)) == 50
    created = (await api.get("/v1/events", params={"limit": 200, "types": "person.created"})).json()["items"]
    assert len(created) == 50, "no row was applied twice"


async def test_a_header_the_server_would_refuse_stops_before_anything_is_sent(api: Api, tmp_path: Path) -> None:
    path = tmp_path / "typo.csv"
    path.write_text("external_id,display_nme\nx,X\n")
    with pytest.raises(ImportAborted, match="display_nme"):
        await Importer(api.client, path, ImportKind.PEOPLE, sleep=no_sleep).run()
    assert await people(api) == {}


async def test_a_key_without_the_scope_stops_the_import(api: Api, tmp_path: Path) -> None:
    reader = await api.make_key(["people:read"])
    client = httpx.AsyncClient(transport=api.client._transport, base_url=api.client.base_url, headers={"Authorization": f"Bearer {reader}"})
    with pytest.raises(ImportAborted, match="forbidden.missing_scope"):
        await Importer(client, copy(tmp_path, "people.csv"), ImportKind.PEOPLE, sleep=no_sleep).run()


def test_the_command_needs_a_key_and_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("STINT_API_KEY", raising=False)
    assert main(["import", str(tmp_path / "missing.csv"), "--kind", "people"]) == 2
    path = copy(tmp_path, "people.csv")
    assert main(["import", str(path), "--kind", "people"]) == 2
    assert "STINT_API_KEY" in capsys.readouterr().err
    assert main(["import", str(path), "--kind", "people", "--key", "stint_x", "--url", "http://127.0.0.1:9", "--quiet", "--retries", "0"]) == 1
    assert "could not be reached" in capsys.readouterr().err


async def test_reports_before_their_managers_in_another_batch_go_in_all_the_same(api: Api, tmp_path: Path) -> None:
    path = tmp_path / "unsorted.csv"
    path.write_text("external_id,display_name,manager_external_id\n"
                    + "".join(f"r-{i},Report {i},boss\n" for i in range(25)) + "boss,The Boss,\nlost,Lost,nobody\n")
    summary = await Importer(api.client, path, ImportKind.PEOPLE, batch_size=10, sleep=no_sleep).run()
    assert summary.counts == {"created": 26, "updated": 0, "unchanged": 0, "error": 1}
    found = await people(api)
    assert all(found[f"r-{i}"]["manager_id"] == found["boss"]["id"] for i in range(25))
    rows = list(csv.reader(summary.errors_path.open()))  # type: ignore[union-attr]
    assert [r[:2] for r in rows[1:]] == [["28", "person.unknown_manager"]], "only the one whose manager is nowhere"


async def test_a_dry_run_then_the_real_run_and_a_rerun_without_its_state(api: Api, tmp_path: Path) -> None:
    path = copy(tmp_path, "people.csv")
    checked = await Importer(api.client, path, ImportKind.PEOPLE, dry_run=True, sleep=no_sleep).run()
    assert checked.counts["created"] == 11 and await people(api) == {}
    assert (await Importer(api.client, path, ImportKind.PEOPLE, sleep=no_sleep).run()).counts["created"] == 11
    maria = (await people(api))["wd-1001"]
    assert (await api.patch(f"/v1/people/{maria['id']}", {"display_name": "Changed elsewhere"})).status_code == 200
    (tmp_path / "people.csv.stint-import.json").unlink()
    again = await Importer(api.client, path, ImportKind.PEOPLE, sleep=no_sleep).run()
    assert again.counts == {"created": 0, "updated": 1, "unchanged": 10, "error": 0}, "a new run is applied, not replayed"
    assert (await people(api))["wd-1001"]["display_name"] == "Maria Lopez"
