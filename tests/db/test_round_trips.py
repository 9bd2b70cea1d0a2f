"""Hot paths take a small, fixed number of SQL statements, whatever the data size (no N+1)."""

from __future__ import annotations

from tests.support import PASSING_SCORES, Api, count_statements


# The API key's lookup is cached for a few seconds per process (STINT_API_KEY_CACHE_SECONDS), and these
# clients have just used theirs, so the counts below are the work itself; a cold key adds one SELECT.


async def test_read_one_assignment_is_one_select(api: Api) -> None:
    assignment = await api.offered()
    with count_statements(api.engine) as log:
        assert (await api.get(f"/v1/assignments/{assignment['id']}")).status_code == 200
    assert log.count == 1, log.statements


async def test_a_list_page_costs_the_same_for_3_or_60_rows(api: Api) -> None:
    brief = await api.brief()
    _, report = await api.team()
    for _ in range(3):
        await api.offered(brief_id=brief["id"], assignee_id=report["id"])
    with count_statements(api.engine) as small:
        assert len((await api.get("/v1/assignments", params={"limit": 200})).json()["items"]) == 3
    for _ in range(57):
        await api.offered(brief_id=brief["id"], assignee_id=report["id"])
    with count_statements(api.engine) as large:
        assert len((await api.get("/v1/assignments", params={"limit": 200})).json()["items"]) == 60
    assert small.count == large.count == 1, large.statements


async def test_transitions_take_a_fixed_number_of_statements(api: Api) -> None:
    assignment = await api.offered()
    url = f"/v1/assignments/{assignment['id']}"
    with count_statements(api.engine) as accept:
        assert (await api.post(f"{url}/accept")).status_code == 200
    with count_statements(api.engine) as submit:
        assert (await api.post(f"{url}/submissions", {"body": "done"})).status_code == 201
    with count_statements(api.engine) as review:
        assert (await api.post(f"{url}/reviews", {"outcome": "pass", "scores": PASSING_SCORES, "feedback": "ok"})).status_code == 201
    # load, compare-and-set update, the event's feed seq, event insert (+ the submission / review rows),
    # and the event's xAPI statement, frozen in the same transaction: one lookup (learner, skill), one insert
    assert accept.count == 4 + 2, accept.statements
    assert submit.count == 5 + 2, submit.statements
    assert review.count == 7 + 2, review.statements


async def test_a_cold_key_costs_one_lookup(database, api: Api) -> None:
    from tests.conftest import make_api

    assignment = await api.offered()
    async with make_api(database, api.tenant_slug, clock=api.clock) as fresh:  # a new key, never seen by its app
        with count_statements(api.engine) as log:
            assert (await fresh.get(f"/v1/assignments/{assignment['id']}")).status_code == 200
    assert log.count == 2, log.statements
