"""Import jobs: a file streamed in, applied by the worker in chunks, every refused row reported."""

from __future__ import annotations

import csv
import io
from typing import Any

import httpx

from app.domain.imports import ImportFormat, ImportKind
from app.main import create_app, import_worker
from app.repositories.clock import SystemClock, Uuid7Ids
from app.repositories.sql.database import Database
from app.services import imports as import_service
from app.services import tenants
from app.services.context import Context
from app.services.tenants import authenticate_key
from app.settings import Settings
from app.workers.imports import LEASE, drain, process_one
from tests.support import Api, problem

PEOPLE_CSV = (
    "external_id,display_name,email,manager_external_id,team,active\n"
    "wd-2,Pat,pat@example.com,wd-1,Data,true\n"
    "wd-1,Maria,maria@example.com,,,\n"
    'wd-3,"Lee, the ""new"" one",not-an-email,wd-1,,\n'
    "wd-4,Sam,,wd-9,,\n"
    "wd-5,Kim,,wd-2,,no\n"
)


async def upload(api: Api, kind: str, body: str | bytes, media: str = "text/csv", headers: dict[str, str] | None = None) -> httpx.Response:
    return await api.post("/v1/imports", content=body, params={"kind": kind}, headers={"Content-Type": media, **(headers or {})})


async def run_import(api: Api, database: Database, kind: str, body: str, media: str = "text/csv") -> dict[str, Any]:
    response = await upload(api, kind, body, media)
    assert response.status_code == 202, response.text
    job = response.json()
    assert response.headers["location"] == f"/v1/imports/{job['id']}" and job["state"] == "queued"
    await drain(import_worker(database), api.clock, Uuid7Ids())
    done = (await api.get(f"/v1/imports/{job['id']}")).json()
    assert done["state"] == "completed", done
    return done


async def test_a_people_file_goes_in_and_reports_the_rows_it_refused(api: Api, database: Database) -> None:
    job = await run_import(api, database, "people", PEOPLE_CSV)
    assert (job["rows_read"], job["rows_processed"], job["progress"]) == (5, 5, 1.0)
    assert job["counts"] == {"created": 3, "updated": 0, "unchanged": 0, "failed": 2}
    people = {p["external_id"]: p for p in (await api.get("/v1/people", params={"limit": 200})).json()["items"]}
    assert set(people) == {"wd-1", "wd-2", "wd-5"}
    assert people["wd-2"]["manager_id"] == people["wd-1"]["id"] and people["wd-5"]["active"] is False
    assert people["wd-1"]["team"] is None, "an empty cell leaves the field out"

    errors = (await api.get(f"/v1/imports/{job['id']}/errors")).json()
    assert [(e["line"], e["problem"]["code"]) for e in errors["items"]] == [(4, "validation_failed"), (5, "person.unknown_manager")]
    assert errors["items"][0]["problem"]["errors"][0]["loc"] == ["email"]
    assert errors["items"][0]["problem"]["instance"] == f"/v1/imports/{job['id']}"
    download = await api.get(f"/v1/imports/{job['id']}/errors", params={"format": "csv"})
    assert download.status_code == 200 and download.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(download.text)))
    assert rows[0] == ["line", "code", "fields", "detail"] and [r[:3] for r in rows[1:]] == [
        ["4", "validation_failed", "email"], ["5", "person.unknown_manager", "manager_external_id"]]

    again = await run_import(api, database, "people", PEOPLE_CSV)
    assert again["counts"] == {"created": 0, "updated": 0, "unchanged": 3, "failed": 2}, "the same file again changes nothing"
    listed = (await api.get("/v1/imports")).json()["items"]
    assert [j["id"] for j in listed] == [job["id"], again["id"]]


async def test_ndjson_files_of_every_kind(api: Api, database: Database) -> None:
    skills = await run_import(api, database, "skills", '{"key":"sql","name":"SQL","levels":[{"level":1,"name":"Basic"},{"level":2,"name":"Working"}]}\n'
                              'not json\n\n{"key":"x","name":"No levels"}\n', "application/x-ndjson")
    assert skills["counts"] == {"created": 1, "updated": 0, "unchanged": 0, "failed": 2}
    errors = (await api.get(f"/v1/imports/{skills['id']}/errors")).json()["items"]
    assert [(e["line"], e["problem"]["code"]) for e in errors] == [(2, "validation_failed"), (4, "skill.fields_required")]

    csv_skills = await run_import(api, database, "skills", "key,name,levels\nwriting,Writing,1:Clear|2:Concise\nbad,Bad,one\n")
    assert csv_skills["counts"]["created"] == 1 and csv_skills["counts"]["failed"] == 1

    rubric = '"{""criteria"":[{""key"":""fix"",""title"":""Fix"",""levels"":[{""score"":0,""label"":""No""},{""score"":2,""label"":""Yes""}]}]}"'
    briefs = await run_import(api, database, "briefs",
                              "key,title,instructions,skill_key,target_level,timebox,rubric,tags,publish\n"
                              f"weekly,Weekly report,Find the slow join.,sql,2,PT3H,{rubric},sql|perf,true\n")
    assert briefs["counts"]["created"] == 1, (await api.get(f"/v1/imports/{briefs['id']}/errors")).json()
    await run_import(api, database, "people", "external_id,display_name,manager_external_id\nboss,Boss,\nann,Ann,boss\n")
    offers = await run_import(api, database, "assignments",
                              "external_ref,brief_key,assignee_external_id\nq1:ann,weekly,ann\nq1:boss,weekly,boss\n")
    assert offers["counts"] == {"created": 1, "updated": 0, "unchanged": 0, "failed": 1}
    again = await run_import(api, database, "assignments", "external_ref,brief_key,assignee_external_id\nq1:ann,weekly,ann\n")
    assert again["counts"]["unchanged"] == 1
    assert len((await api.get("/v1/assignments")).json()["items"]) == 1


async def test_a_file_that_cannot_be_read_leaves_nothing(api: Api, database: Database) -> None:
    bad_header = problem(await upload(api, "people", "external_id,display_nme\nx,y\n"), 422, "import.bad_header")
    assert "display_nme" in bad_header["errors"][0]["msg"]
    problem(await upload(api, "assignments", "brief_key,assignee_external_id\nweekly,ann\n"), 422, "import.bad_header")
    problem(await upload(api, "people", ""), 422, "import.empty_file")
    problem(await upload(api, "people", "x", media="application/json"), 415, "unsupported_media_type")
    problem(await upload(api, "gadgets", "external_id\nx\n"), 422, "validation_failed")
    broken = problem(await upload(api, "people", b"external_id,display_name\nwd-1,Ma\xffria\n"), 422, "import.unreadable_file")
    assert "UTF-8" in broken["detail"]
    reader = await api.make_key(["people:read"])
    problem(await upload(api, "people", PEOPLE_CSV, headers={"Authorization": f"Bearer {reader}"}), 403, "forbidden.missing_scope")
    await drain(import_worker(database), api.clock, Uuid7Ids())
    assert (await api.get("/v1/people")).json()["items"] == []
    assert (await api.get("/v1/imports")).json()["items"] == []


async def test_a_file_that_breaks_mid_way_leaves_a_failed_job_and_no_rows(api: Api, database: Database) -> None:
    async def pieces():  # type: ignore[no-untyped-def]
        yield b"external_id,display_name\nwd-1,Maria\n"
        yield b"wd-2,P\xffat\n"

    response = await api.post("/v1/imports", content=pieces(), params={"kind": "people"}, headers={"Content-Type": "text/csv"})
    problem(response, 422, "import.unreadable_file")
    await drain(import_worker(database), api.clock, Uuid7Ids())
    jobs = (await api.get("/v1/imports")).json()["items"]
    assert [(j["state"], j["rows_processed"]) for j in jobs] == [("failed", 0)]
    assert "UTF-8" in jobs[0]["error"]
    assert (await api.get("/v1/people")).json()["items"] == []


async def test_an_import_over_the_size_limit_is_413(database: Database, api: Api) -> None:
    settings = Settings(database_url="unused://", rate_limit_per_second=0, max_import_bytes=1000)
    app = create_app(settings, database=database, clock=api.clock)
    key = api.client.headers["Authorization"]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://stint.test", headers={"Authorization": key}) as client:
        body = "external_id,display_name\n" + "".join(f"p-{i},Person {i}\n" for i in range(200))
        response = await client.post("/v1/imports", params={"kind": "people"}, content=body, headers={"Content-Type": "text/csv"})
        problem(response, 413, "payload_too_large")
    assert (await api.get("/v1/imports")).json()["items"] == []


async def test_a_worker_that_stops_mid_file_is_taken_over_after_its_last_chunk(api: Api, database: Database) -> None:
    body = "external_id,display_name\n" + "".join(f"emp-{i:03d},Person {i}\n" for i in range(25))
    job = (await upload(api, "people", body)).json()
    first = await process_one(import_worker(database), api.clock, Uuid7Ids(), chunk=10, max_chunks=1)
    assert first.job is not None and first.job.rows_processed == 10
    mid = (await api.get(f"/v1/imports/{job['id']}")).json()
    assert (mid["state"], mid["rows_processed"], mid["progress"]) == ("running", 10, 0.4)
    await drain(import_worker(database), api.clock, Uuid7Ids())
    done = (await api.get(f"/v1/imports/{job['id']}")).json()
    assert done["counts"] == {"created": 25, "updated": 0, "unchanged": 0, "failed": 0}
    feed = (await api.get("/v1/events", params={"limit": 200})).json()["items"]
    assert len([e for e in feed if e["type"] == "person.created"]) == 25, "no row applied twice"


async def test_a_claimed_job_whose_worker_died_is_resumed_when_its_lease_ends(api: Api, database: Database) -> None:
    job = (await upload(api, "people", "external_id,display_name\na,A\nb,B\n")).json()
    assert await database.maintenance.claim_import(api.clock.now(), LEASE) is not None
    assert (await process_one(import_worker(database), api.clock, Uuid7Ids())).job is None, "the lease is still held"
    api.clock.advance(minutes=3)
    await drain(import_worker(database), api.clock, Uuid7Ids())
    assert (await api.get(f"/v1/imports/{job['id']}")).json()["counts"]["created"] == 2


async def test_the_same_upload_with_the_same_idempotency_key_is_one_job(api: Api, database: Database) -> None:
    first = await upload(api, "people", PEOPLE_CSV, headers={"Idempotency-Key": "people-2026-12-01"})
    again = await upload(api, "people", PEOPLE_CSV, headers={"Idempotency-Key": "people-2026-12-01"})
    assert again.status_code == 202 and again.headers.get("idempotent-replayed") == "true"
    assert again.json()["id"] == first.json()["id"]
    problem(await upload(api, "people", PEOPLE_CSV + "wd-9,Nine,,,,\n", headers={"Idempotency-Key": "people-2026-12-01"}), 422, "idempotency.key_reused")
    assert len((await api.get("/v1/imports")).json()["items"]) == 1


async def test_an_upload_whose_server_died_is_failed_by_the_worker_an_hour_on(api: Api, database: Database) -> None:
    actor = await authenticate_key(database.directory, api.client.headers["Authorization"].split()[1])
    ctx = Context(actor=actor, clock=api.clock, ids=Uuid7Ids(), uow_factory=database.uow)  # type: ignore[arg-type]
    job = await import_service.start(ctx, ImportKind.PEOPLE, ImportFormat.CSV)  # then the process serving it dies
    await drain(import_worker(database), api.clock, Uuid7Ids())
    assert (await api.get(f"/v1/imports/{job.id}")).json()["state"] == "receiving", "an upload under way is left alone"
    api.clock.advance(hours=2)
    await drain(import_worker(database), api.clock, Uuid7Ids())
    failed = (await api.get(f"/v1/imports/{job.id}")).json()
    assert (failed["state"], failed["error"]) == ("failed", "The upload broke off before the file was in.")


async def test_people_before_their_manager_in_a_later_chunk_go_in_on_a_second_pass(api: Api, database: Database) -> None:
    body = ("external_id,display_name,manager_external_id\n" + "".join(f"r-{i},Report {i},boss\n" for i in range(12))
            + "boss,The Boss,\nlost,Lost,nobody\n")
    job = (await upload(api, "people", body)).json()
    while (await process_one(import_worker(database), api.clock, Uuid7Ids(), chunk=5)).job is not None:
        pass
    done = (await api.get(f"/v1/imports/{job['id']}")).json()
    assert (done["state"], done["counts"]) == ("completed", {"created": 13, "updated": 0, "unchanged": 0, "failed": 1})
    people = {p["external_id"]: p for p in (await api.get("/v1/people", params={"limit": 200})).json()["items"]}
    assert all(people[f"r-{i}"]["manager_id"] == people["boss"]["id"] for i in range(12))
    errors = (await api.get(f"/v1/imports/{job['id']}/errors")).json()["items"]
    assert [(e["line"], e["problem"]["code"]) for e in errors] == [(15, "person.unknown_manager")]


async def test_a_file_sent_with_a_key_revoked_before_it_is_applied_is_not_applied(api: Api, database: Database) -> None:
    key = await api.make_key(["people:write"])
    job = (await upload(api, "people", "external_id,display_name\nx,X\n", headers={"Authorization": f"Bearer {key}"})).json()
    actor = await authenticate_key(database.directory, key)
    await tenants.revoke_key(database.directory, SystemClock(), api.tenant_slug, actor.id)  # type: ignore[union-attr, arg-type]
    await drain(import_worker(database), api.clock, Uuid7Ids())
    failed = (await api.get(f"/v1/imports/{job['id']}")).json()
    assert (failed["state"], failed["error"]) == ("failed", "The API key that sent the file has been revoked.")
    assert (await api.get("/v1/people")).json()["items"] == []
