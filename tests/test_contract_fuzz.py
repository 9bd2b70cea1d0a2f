"""The contract under fuzzing (issue 8): Schemathesis against the app in-process, as an admin key.

The contract is the one the app serves (`app.openapi()`, which tests/test_openapi.py holds equal to
the committed openapi.json). The app runs over ASGI (no server) on the SQLite test database from
tests/conftest.py, in a fresh tenant with an admin API key. Two tests:

- `test_every_operation`: every operation, one test each, with Schemathesis' three stateless phases:
  the schema's examples, its coverage cases (boundaries, missing or wrong-typed fields, unexpected
  methods) and Hypothesis-generated requests, valid and invalid.
- `test_stateful_sequences`: Schemathesis' state machine over the links between operations (the
  OpenAPI links in `LINKS` below, which the contract should declare and which are added to the fuzzed
  copy where it does not yet, plus those Schemathesis infers), so the id a POST returns is used by the
  reads and lifecycle actions after it: create → read → act.

The tenant is seeded (two teams, briefs in each status, assignments in each state) and generation
hooks put those ids into some requests, as Schemathesis' guide to realistic data does: random UUIDs
alone only ever reach 404, and an offer needs three existing things at once (a published brief, a
person and their manager), which no single link can carry; each stateful scenario gets a fresh set.

Every response must pass:
- not_a_server_error: no 5xx;
- status_code_conformance: the status is documented for that operation;
- content_type_conformance: the media type is the documented one;
- response_schema_conformance: the body validates against the documented schema;
- problem_details (this module): every 4xx/5xx is `application/problem+json` with the RFC 9457
  members (`type`, `title`, `status`, `detail`, `instance`), the API's stable `code`, and `status`
  equal to the HTTP status.

CI runs a small seeded budget (a minute or two); `make fuzz` a larger one. The knobs:
  STINT_FUZZ_EXAMPLES   generated requests per operation (default 25)
  STINT_FUZZ_SCENARIOS  stateful scenarios (default 80)
  STINT_FUZZ_STEPS      calls per stateful scenario at most (default 15)
  STINT_FUZZ_SEED       the seed (default 20261124), or `random`; the summary prints the one used
  STINT_FUZZ_TRACE      a file to append every call to, one JSON line each (request, status, response)
A failure prints a curl line to reproduce it; the app's traceback is in the captured log.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import random
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any, Iterator

import anyio.from_thread
import httpx
import hypothesis
import pytest
import schemathesis
from hypothesis import strategies as st
from schemathesis import Case, CheckContext, GenerationMode, Response
from schemathesis.core import NOT_SET
from sqlalchemy.pool import NullPool

from app.api.problems import PROBLEM_MEDIA_TYPE
from app.main import create_app
from app.openapi import contract
from app.repositories.sql.database import Database, make_engine
from app.settings import Settings
from tests.conftest import make_api, new_tenant
from tests.support import PASSING_SCORES, Api, FakeClock

# -- budget --------------------------------------------------------------------------------------

EXAMPLES = int(os.environ.get("STINT_FUZZ_EXAMPLES", "25"))
SCENARIOS = int(os.environ.get("STINT_FUZZ_SCENARIOS", "80"))
STEPS = int(os.environ.get("STINT_FUZZ_STEPS", "15"))
_SEED = os.environ.get("STINT_FUZZ_SEED", "20261124")
SEED = random.SystemRandom().randrange(2**32) if _SEED == "random" else int(_SEED)
TRACE = os.environ.get("STINT_FUZZ_TRACE")

# One engine holds the contract; fuzzing the app on PostgreSQL too would double CI time for the same answers.
pytestmark = pytest.mark.parametrize("engine_url", ["sqlite"], indirect=True)

CHECKS = ("not_a_server_error", "status_code_conformance", "content_type_conformance", "response_schema_conformance",
          "problem_details")
RFC9457_MEMBERS = ("type", "title", "status", "detail", "instance")


# -- our check: every error is problem+json ------------------------------------------------------

@schemathesis.check
def problem_details(ctx: CheckContext, response: Response, case: Case) -> bool | None:
    """Every 4xx and 5xx is application/problem+json with the RFC 9457 members, `code`, and the right `status`."""
    if response.status_code < 400:
        return None
    media = (response.headers.get("content-type") or [""])[0].split(";", 1)[0].strip().lower()
    assert media == PROBLEM_MEDIA_TYPE, f"{response.status_code} answered with Content-Type {media!r}, not {PROBLEM_MEDIA_TYPE}"
    body = response.json()
    assert isinstance(body, dict), f"a problem is a JSON object, got {type(body).__name__}"
    missing = [member for member in (*RFC9457_MEMBERS, "code") if member not in body]
    assert not missing, f"the problem lacks {missing}: {body}"
    assert body["status"] == response.status_code, f"the problem's status {body['status']} is not the HTTP status {response.status_code}"
    return True


# -- the schema ----------------------------------------------------------------------------------

def _config() -> schemathesis.Config:
    checks: dict[str, Any] = {"enabled": False} | {name: {"enabled": True} for name in CHECKS}
    return schemathesis.Config.from_dict({
        "seed": SEED,
        "suppress-health-check": ["too_slow", "filter_too_much", "data_too_large"],
        # Credentials come from the admin key (`Target.call_kwargs`), not from generated Authorization headers.
        "generation": {"mode": "all", "max-examples": EXAMPLES, "database": "none", "with-security-parameters": False},
        "checks": checks,
        # Sequences are for reaching deep states: valid requests only; the stateless test sends the invalid ones.
        "phases": {"stateful": {"max-steps": STEPS, "generation": {"mode": "positive"}}},
    })


# Durations the API takes (weeks, days, hours, minutes, whole seconds; no years or months), mostly the
# short ones a timebox or SLA has: the schema says only `format: duration`, and most ISO 8601 durations
# a generator writes for that are refused, which would keep valid requests from reaching anything.
schemathesis.openapi.format("duration", st.one_of(
    st.sampled_from(["PT30M", "PT1H", "PT3H", "PT8H", "P1D", "P2D", "P1W", "PT90S"]),
    st.from_regex(r"\AP(?:[1-9]\d{0,1}D)?T[1-9]\d{0,2}[HM]\Z"),
))

# Import files (POST /v1/imports): well-formed files of each kind, files with bad rows or headers, and
# arbitrary bytes (which are mostly not UTF-8). The schema says only `type: string`.
_FILES = st.sampled_from([
    b"external_id,display_name,manager_external_id\nwd-1,Maria,\nwd-2,Pat,wd-1\n",
    b"key,name,levels\nsql,SQL,1:Basic|2:Working\n",
    b"external_ref,brief_key,assignee_external_id\nr-1,weekly,wd-2\n",
    b"external_id,display_nme\nx,y\n",
    b'external_id,display_name\n"unterminated,x\n',
    b"",
])
schemathesis.openapi.media_type("text/csv", st.one_of(_FILES, st.binary(max_size=300)))
schemathesis.openapi.media_type("application/x-ndjson", st.one_of(
    st.sampled_from([b'{"external_id":"wd-1","display_name":"Maria"}\n', b'{"key":"sql"}\nnot json\n', b"[]\n", b""]),
    st.binary(max_size=300),
))

# OpenAPI links that chain create → read → act: (source operationId, status, link name, target operationId,
# {target path parameter: runtime expression}). The contract should declare them (issue 8); until it does,
# the fuzzed copy of it gets the ones it lacks. A link the contract declares under the same name wins.
LINKS: list[tuple[str, str, str, str, dict[str, str]]] = [
    *[("create_import", "202", name, target, {"import_id": "$response.body#/id"}) for name, target in (
        ("GetImport", "get_import"), ("ListImportErrors", "list_import_errors"))],
    *[("create_person", "201", name, target, {"person_id": "$response.body#/id"}) for name, target in (
        ("GetPerson", "get_person"), ("UpdatePerson", "update_person"), ("GetSkillProfile", "get_skill_profile"))],
    *[("upsert_person", status, name, target, {"person_id": "$response.body#/id"}) for status in ("200", "201")
      for name, target in (("GetPerson", "get_person"), ("UpdatePerson", "update_person"))],
    *[("create_skill", "201", name, target, {"skill_id": "$response.body#/id"}) for name, target in (
        ("GetSkill", "get_skill"), ("UpdateSkill", "update_skill"))],
    *[("create_brief", "201", name, target, {"brief_id": "$response.body#/id"}) for name, target in (
        ("GetBrief", "get_brief"), ("UpdateBrief", "update_brief"), ("PublishBrief", "publish_brief"),
        ("ArchiveBrief", "archive_brief"))],
    *[("offer_assignment", "201", name, target, {"assignment_id": "$response.body#/id"}) for name, target in (
        ("GetAssignment", "get_assignment"), ("AcceptAssignment", "accept_assignment"),
        ("DeclineAssignment", "decline_assignment"), ("WithdrawAssignment", "withdraw_assignment"),
        ("ExtendAssignment", "extend_assignment"), ("ListAssignmentEvents", "list_assignment_events"))],
    *[("accept_assignment", "200", name, target, {"assignment_id": "$response.body#/id"}) for name, target in (
        ("SubmitAssignment", "submit_assignment"), ("WithdrawAssignment", "withdraw_assignment"),
        ("ExtendAssignment", "extend_assignment"), ("GetAssignment", "get_assignment"))],
    *[("submit_assignment", "201", name, target, {"assignment_id": "$response.body#/assignment_id"}) for name, target in (
        ("ReviewSubmission", "review_submission"), ("ReclaimSubmission", "reclaim_submission"),
        ("ListSubmissions", "list_submissions"), ("GetAssignment", "get_assignment"))],
    *[("reclaim_submission", "200", name, target, {"assignment_id": "$response.body#/id"}) for name, target in (
        ("SubmitAssignment", "submit_assignment"), ("ListSubmissions", "list_submissions"))],
    *[("review_submission", "201", name, target, {"assignment_id": "$response.body#/assignment_id"}) for name, target in (
        ("GetAssignment", "get_assignment"), ("ListReviews", "list_reviews"), ("SubmitAssignment", "submit_assignment"),
        ("ListAssignmentEvents", "list_assignment_events"))],
    *[("extend_assignment", "200", name, target, {"assignment_id": "$response.body#/id"}) for name, target in (
        ("ListExtensions", "list_extensions"), ("SubmitAssignment", "submit_assignment"))],
]


def _with_links(document: dict[str, Any]) -> dict[str, Any]:
    responses = {op["operationId"]: op["responses"] for methods in document["paths"].values() for op in methods.values()}
    for source, status, name, target, parameters in LINKS:
        if source in responses and target in responses and status in responses[source]:
            links = responses[source][status].setdefault("links", {})
            links.setdefault(name, {"operationId": target, "parameters": parameters})
    return document


# The contract exactly as the app serves it, plus the links above where it lacks them.
schema = schemathesis.openapi.from_dict(_with_links(contract()), config=_config())


# -- the seeded tenant ---------------------------------------------------------------------------

@dataclass
class World:
    """Ids of real things in the fuzzed tenant, by the name of the parameter or field that takes them."""

    ids: dict[str, list[str]] = field(default_factory=dict)
    # Stateless cases may aim path parameters at seeded things; sequences get them from links instead.
    aim_paths: bool = True


WORLD = World()
# Which request fields take which kind of id.
_FIELD_KIND = {
    "person_id": "person", "manager_id": "person", "assignee_id": "report", "reviewer_id": "person",
    "skill_id": "skill", "brief_id": "brief", "assignment_id": "assignment", "external_id": "external_id",
}
# In a body, ids name what to offer and to whom: a brief, a report and a manager that no fuzzed request
# aims at (so none archives, edits, deactivates or re-parents them).
_BODY_KIND = _FIELD_KIND | {"brief_id": "offerable", "assignee_id": "assignee", "reviewer_id": "reviewer"}


def _aimed(values: dict[str, Any], names: list[str], kinds: dict[str, str] = _FIELD_KIND) -> st.SearchStrategy[dict[str, Any]]:
    """The generated values, or (half the time, per field) the id of a seeded thing."""
    strategy: st.SearchStrategy[dict[str, Any]] = st.just(dict(values))
    for name in names:
        choices = WORLD.ids.get(kinds[name], [])
        if not choices:
            continue
        strategy = strategy.flatmap(lambda current, name=name, choices=choices: st.one_of(
            st.just(current), st.sampled_from(choices).map(lambda value: current | {name: value})))
    return strategy


@schema.hook
def flatmap_path_parameters(ctx: Any, path_parameters: dict[str, Any] | None) -> st.SearchStrategy[Any]:
    if not path_parameters or not WORLD.aim_paths:
        return st.just(path_parameters)
    return _aimed(path_parameters, [name for name in path_parameters if name in _FIELD_KIND])


@schema.hook
def flatmap_body(ctx: Any, body: Any) -> st.SearchStrategy[Any]:
    if not isinstance(body, dict):
        return st.just(body)
    names = [name for name in body if name in _BODY_KIND and isinstance(body[name], str)]
    if not WORLD.aim_paths and "brief_id" in body and "assignee_id" in body:
        # An offer in a sequence: always this scenario's kit, so it is made and its id chains on.
        kit = {name: WORLD.ids[_BODY_KIND[name]][0] for name in ("brief_id", "assignee_id", "reviewer_id") if name in body}
        return st.just(body | kit)
    strategy = _aimed(body, names, _BODY_KIND)
    if "scores" in body and "outcome" in body:  # a review: sometimes score the seeded rubric's criteria
        strategy = strategy.flatmap(lambda b: st.one_of(st.just(b), st.just(b | {"scores": PASSING_SCORES})))
    return strategy


# Optional headers that a generator fills with values that can only be refused: a random person to act
# for (a 422 before anything else happens) and a random ETag (a 412 on anything that exists).
_BLOCKING_HEADERS = ("stint-acting-for", "if-match")


@schema.hook
def flatmap_headers(ctx: Any, headers: dict[str, Any] | None) -> st.SearchStrategy[Any]:
    """Fuzzed requests mostly go without the blocking headers; some act for a seeded person."""
    if not headers or not any(name.lower() in _BLOCKING_HEADERS for name in headers):
        return st.just(headers)
    kept = {name: value for name, value in headers.items() if name.lower() not in _BLOCKING_HEADERS}
    acting = [kept | {"Stint-Acting-For": person} for person in WORLD.ids.get("person", [])]
    return st.sampled_from([kept, kept, kept, headers, *acting])


def _realistic(case: Case) -> None:
    """Coverage cases (which generation hooks do not reach) that are meant to be valid get the same treatment:
    no blocking headers, and ids of seeded things in the path and body, taken in turn."""
    meta = case.meta
    if meta is None or meta.phase.name.value != "coverage" or meta.generation.mode is not GenerationMode.POSITIVE:
        return
    if case.headers:
        for name in [name for name in case.headers if name.lower() in _BLOCKING_HEADERS]:
            del case.headers[name]
    containers = [(case.path_parameters, _FIELD_KIND)] if WORLD.aim_paths else []
    containers += [(case.body, _BODY_KIND)] if isinstance(case.body, dict) else []
    for container, kinds in containers:
        for name in container or {}:
            choices = WORLD.ids.get(kinds.get(name, ""), [])
            if choices and isinstance(container[name], str):
                container[name] = choices[next(_TURN) % len(choices)]


_TURN = itertools.count()


async def _offer_kit(api: Any) -> dict[str, list[str]]:
    """What an offer needs, fresh: a published brief (of the rubric the review hook scores) and a report with a manager."""
    reviewer, assignee = await api.team()
    offerable = await api.brief()
    return {"offerable": [offerable["id"]], "assignee": [assignee["id"]], "reviewer": [reviewer["id"]]}


async def _seed(api: Any) -> dict[str, list[str]]:
    """A manager and report, a skill, briefs in each status, assignments in each state of the lifecycle."""
    manager, report = await api.team()
    kit = await _offer_kit(api)
    brief = await api.brief()
    draft = await api.brief(publish=False)
    archived = await api.brief()
    await api.post(f"/v1/briefs/{archived['id']}/archive")
    fields = {"brief_id": kit["offerable"][0], "assignee_id": report["id"]}
    offered = await api.offered(**fields)
    accepted = await api.accepted(**fields)
    submitted = await api.submitted(**fields)
    reviewed = await api.submitted(**fields)
    await api.act(reviewed["id"], "reviews", {"outcome": "pass", "scores": PASSING_SCORES, "feedback": "Clean."}, expect=201)
    declined = await api.offered(**fields)
    await api.act(declined["id"], "decline", {"reason": "Busy this week."})
    return {
        "person": [manager["id"], report["id"]],
        "report": [report["id"]],
        "external_id": [manager["external_id"], report["external_id"]],
        "skill": [brief["skill_id"]],
        **kit,
        "brief": [brief["id"], draft["id"], archived["id"]],
        "assignment": [a["id"] for a in (offered, accepted, submitted, reviewed, declined)],
    }


# -- the app -------------------------------------------------------------------------------------

class AsServed:
    """The app as a server runs it: an exception the app re-raises after answering is logged, not raised.

    Starlette answers an unhandled exception with the app's 500 (problem+json here) and then re-raises
    it for the server to log; uvicorn logs it and the client keeps the 500. In-process the re-raise
    would abort the test before Schemathesis sees the response, so this does what uvicorn does: the 500
    is reported as a server error with its request, and the traceback stays in the captured log.
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        started = False

        async def tracked(message: dict[str, Any]) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracked)
        except Exception:
            if scope["type"] != "http":
                raise
            if not started:  # what uvicorn sends when the app answered nothing
                body = b"Internal Server Error"
                await send({"type": "http.response.start", "status": 500, "headers": [
                    (b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode())]})
                await send({"type": "http.response.body", "body": body})


@dataclass
class Target:
    """The app under test and its caller's credentials: an admin key of a fresh tenant."""

    app: Any
    secret: str
    raw: Any = None

    def call_kwargs(self) -> dict[str, Any]:
        return {"app": self.app, "headers": {"Authorization": f"Bearer {self.secret}"}}


@pytest.fixture(scope="module")
async def admin_tenant(database: Database) -> str:
    """A fresh tenant's admin key (made as `make_api` makes it), after seeding the tenant through the API."""
    slug = await new_tenant(database)
    async with make_api(database, slug) as api:
        WORLD.ids = await _seed(api)
        return api.client.headers["Authorization"].removeprefix("Bearer ")


@pytest.fixture(scope="module")
def target(engine_url: str, admin_tenant: str) -> Target:
    # Its own engine on the same SQLite file: Schemathesis runs ASGI apps on an event loop of its own,
    # which must not share pooled connections with the test session's loop.
    database = Database(make_engine(engine_url, poolclass=NullPool))
    app = create_app(Settings(database_url="unused://", rate_limit_per_second=0), database=database, clock=FakeClock())
    return Target(AsServed(app), admin_tenant, raw=app)


# -- stateless: every operation ------------------------------------------------------------------

@schema.parametrize()
def test_every_operation(case: Case, target: Target) -> None:
    _realistic(case)
    kwargs = target.call_kwargs()
    response = case.call(**kwargs)
    TOTALS.record(case, response)
    case.validate_response(response, transport_kwargs=kwargs)


# -- stateful: create → read → act ---------------------------------------------------------------

@pytest.fixture
def stack() -> Iterator[contextlib.ExitStack]:
    with contextlib.ExitStack() as stack:
        yield stack


@dataclass
class Found:
    """A distinct failure a sequence ran into: which check, on which operation and status, and how to reproduce it."""

    operation: str
    status: int
    title: str
    message: str
    curl: str
    steps: list[str]

    def __str__(self) -> str:
        steps = "".join(f"\n      {step}" for step in self.steps)
        return (f"{self.operation} -> {self.status}: {self.title}\n    {self.message.strip()}\n"
                f"    after:{steps or ' (first call)'}\n    reproduce (with -H 'Authorization: Bearer <admin key>'): {self.curl}")


def test_stateful_sequences(target: Target, stack: contextlib.ExitStack) -> None:
    """Scenarios of linked calls; each failure is recorded when it happens and the test fails at the end with all of them.

    The database keeps what every earlier scenario did, so a failing scenario cannot be replayed
    (or shrunk) to the same outcome: as in Schemathesis' own runner, failures are collected as
    they happen, and Hypothesis' complaints about runs that diverge on replay are not failures.
    """
    found: dict[tuple[str, int, str], Found] = {}
    portal = stack.enter_context(anyio.from_thread.start_blocking_portal())

    async def fresh_kit() -> dict[str, list[str]]:
        transport = httpx.ASGITransport(app=target.raw)
        headers = {"Authorization": f"Bearer {target.secret}"}
        async with httpx.AsyncClient(transport=transport, base_url="http://stint.test", headers=headers) as client:
            return await _offer_kit(Api(client, FakeClock(), "", None, None))

    class Sequences(schema.as_state_machine()):  # type: ignore[misc]
        def setup(self) -> None:
            TOTALS.scenarios += 1
            self.steps: list[str] = []
            # Earlier scenarios archive briefs and deactivate or re-parent people through the links from
            # the lists; each scenario gets its own brief and team to offer, so offers can succeed and
            # their ids chain into accept → submit → review.
            WORLD.ids.update(portal.call(fresh_kit))

        def get_call_kwargs(self, case: Case) -> dict[str, Any]:
            return target.call_kwargs()

        def after_call(self, response: Response, case: Case) -> None:
            super().after_call(response, case)
            TOTALS.record(case, response, stateful=True)

        def validate_response(self, response: Response, case: Case, additional_checks: Any = None, **kwargs: Any) -> None:
            try:
                super().validate_response(response, case, additional_checks, **kwargs)
            except (AssertionError, BaseExceptionGroup) as exc:
                failures = exc.exceptions if isinstance(exc, BaseExceptionGroup) else (exc,)
                titles = " + ".join(getattr(f, "title", str(f).splitlines()[0]) for f in failures)
                key = (case.operation.label, response.status_code, titles)
                found.setdefault(key, Found(
                    *key, message="\n".join(getattr(f, "message", str(f)) for f in failures),
                    curl=case.as_curl_command(base_url="http://stint.test"), steps=list(self.steps),
                ))
            self.steps.append(f"{case.operation.label} -> {response.status_code}")

    WORLD.aim_paths = False
    suite = 0
    try:
        # Suites of scenarios until the budget is spent; a suite that Hypothesis abandons as flaky is followed by another.
        while TOTALS.scenarios < SCENARIOS and suite < 10:
            Sequences.rule_order_seed = SEED + suite
            try:
                hypothesis.seed(SEED + suite)(Sequences).run(settings=hypothesis.settings(
                    max_examples=SCENARIOS - TOTALS.scenarios, stateful_step_count=STEPS, deadline=None, database=None,
                    phases=[hypothesis.Phase.generate], suppress_health_check=list(hypothesis.HealthCheck),
                ))
            except hypothesis.errors.Flaky:
                pass
            suite += 1
    finally:
        WORLD.aim_paths = True
    TOTALS.stateful_failures = len(found)
    if found:
        pytest.fail(f"{len(found)} distinct failure(s) in stateful sequences:\n\n" + "\n\n".join(map(str, found.values())),
                    pytrace=False)


# -- totals --------------------------------------------------------------------------------------

class Totals:
    """What the run did: operations, cases, statuses per operation, failing tests."""

    def __init__(self) -> None:
        self.statuses: dict[str, Counter[int]] = defaultdict(Counter)
        self.stateful_statuses: dict[str, Counter[int]] = defaultdict(Counter)
        self.scenarios = 0
        self.stateful_failures = 0
        self.failed: list[str] = []

    def record(self, case: Case, response: Response, *, stateful: bool = False) -> None:
        (self.stateful_statuses if stateful else self.statuses)[case.operation.label][response.status_code] += 1
        if TRACE:
            with open(TRACE, "a", encoding="utf-8") as trace:
                mode = "stateful" if stateful else (case.meta.generation.mode.value if case.meta else "?")
                phase = case.meta.phase.name.value if case.meta else "?"
                trace.write(json.dumps({
                    "operation": case.operation.label, "phase": "stateful" if stateful else phase, "mode": mode,
                    "path": case.formatted_path, "query": case.query, "body": case.body if case.body is not NOT_SET else None,
                    "status": response.status_code, "response": response.text[:500],
                }, default=str) + "\n")

    def lines(self) -> list[str]:
        operations = sum(len(methods) for methods in schema.raw_schema["paths"].values())
        stateless = sum(sum(c.values()) for c in self.statuses.values())
        stateful = sum(sum(c.values()) for c in self.stateful_statuses.values())
        lines = [
            f"seed {SEED}; {EXAMPLES} generated examples per operation; {SCENARIOS} scenarios of at most {STEPS} calls",
            f"{operations} operations; stateless: {stateless} cases over {len(self.statuses)} operations; "
            f"stateful: {stateful} calls in {self.scenarios} scenarios over {len(self.stateful_statuses)} operations",
            f"{len(self.failed)} failing test(s), {self.stateful_failures} distinct failure(s) in sequences" + "".join(f"\n  {name}" for name in self.failed),
            "statuses per operation (stateless | stateful):",
        ]
        for label in sorted(set(self.statuses) | set(self.stateful_statuses), key=lambda lb: lb.split(" ", 1)[::-1]):
            def fmt(counter: Counter[int]) -> str:
                return " ".join(f"{status}×{n}" for status, n in sorted(counter.items())) or "-"
            lines.append(f"  {label:<62} {fmt(self.statuses[label]):<40} | {fmt(self.stateful_statuses[label])}")
        return lines


TOTALS = Totals()


class _TotalsReport:
    """A pytest plugin, registered while this module runs, that prints the totals in the terminal summary."""

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.failed and __name__.rsplit(".", 1)[-1] in report.nodeid:
            TOTALS.failed.append(report.nodeid.split("::", 1)[-1])

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        terminalreporter.section("contract fuzz")
        for line in TOTALS.lines():
            terminalreporter.write_line(line)


@pytest.fixture(scope="module", autouse=True)
def _report_totals(request: pytest.FixtureRequest) -> None:
    if not request.config.pluginmanager.has_plugin("stint-contract-fuzz"):
        request.config.pluginmanager.register(_TotalsReport(), "stint-contract-fuzz")
