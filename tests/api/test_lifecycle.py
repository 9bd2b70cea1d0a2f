"""The whole lifecycle over HTTP, on every engine."""

from __future__ import annotations

from datetime import timedelta

from tests.support import PASSING_SCORES, Api, iso, problem


async def test_offer_accept_submit_pass_leaves_evidence_and_history(api: Api) -> None:
    manager, report = await api.team()
    brief = await api.brief()
    offered = await api.created("/v1/assignments", {"brief_id": brief["id"], "assignee_id": report["id"], "context_note": "Q4 report is slow"})
    assert offered["state"] == "offered"
    assert offered["reviewer_id"] == manager["id"], "the reviewer defaults to the assignee's manager"
    assert offered["allowed_actions"] == ["accept", "decline", "withdraw"]
    assert offered["brief_version"] == 1
    assert offered["brief"]["title"] == brief["title"] and offered["brief"]["timebox"] == "PT3H"
    assert offered["offer_expires_at"] == iso(api.clock.now() + timedelta(days=7))
    assert offered["skill_id"] == brief["skill_id"]

    accepted = await api.act(offered["id"], "accept")
    assert accepted["state"] == "accepted"
    assert accepted["starts_at"] == iso(api.clock.now())
    assert accepted["due_at"] == iso(api.clock.now() + timedelta(hours=3))
    assert accepted["version"] == offered["version"] + 1

    api.clock.advance(hours=2)
    submission = await api.act(offered["id"], "submissions", {"body": "Added an index", "time_spent": "PT1H45M",
                                                              "links": [{"url": "https://git.example/pr/7", "title": "PR"}]}, expect=201)
    assert submission["attempt"] == 1 and submission["late"] is False and submission["time_spent"] == "PT1H45M"
    submitted = await api.assignment(offered["id"])
    assert submitted["state"] == "submitted"
    assert submitted["review_due_at"] == iso(api.clock.now() + timedelta(days=2))

    review = await api.act(offered["id"], "reviews", {"outcome": "pass", "scores": PASSING_SCORES, "feedback": "Clean fix."}, expect=201)
    assert review["score"] == 100.0 and review["outcome"] == "pass" and review["reviewer_id"] == manager["id"]
    passed = await api.assignment(offered["id"])
    assert (passed["state"], passed["outcome"], passed["score"], passed["allowed_actions"]) == ("passed", "pass", 100.0, [])

    profile = (await api.get(f"/v1/people/{report['id']}/skills")).json()
    assert [(s["skill_id"], s["level"], s["level_name"]) for s in profile["skills"]] == [(brief["skill_id"], 2, "Working")]
    assert profile["skills"][0]["evidence"][0]["assignment_id"] == offered["id"]

    events = await api.events(offered["id"])
    assert [e["type"] for e in events] == ["assignment.offered", "assignment.accepted", "assignment.submitted", "assignment.passed"]
    assert all(e["actor"]["type"] == "api_key" and e["subject"] == {"type": "assignment", "id": offered["id"]} for e in events)
    assert events[-1]["data"]["state"] == "passed" and "tenant_id" not in events[-1]["data"]


async def test_revise_starts_a_fresh_timebox_until_attempts_run_out(api: Api) -> None:
    assignment = await api.submitted(brief={"max_attempts": 2})
    api.clock.advance(hours=1)
    low = [{"criterion": "correctness", "score": 1}, {"criterion": "clarity", "score": 0}]
    await api.act(assignment["id"], "reviews", {"outcome": "revise", "scores": low, "feedback": "Check the join."}, expect=201)
    revised = await api.assignment(assignment["id"])
    assert (revised["state"], revised["attempt"]) == ("revision_requested", 2)
    assert revised["due_at"] == iso(api.clock.now() + timedelta(hours=3)), "a new attempt gets a fresh timebox"
    assert revised["score"] == 37.5  # (3 * 1/2 + 1 * 0/4) / 4 * 100

    await api.act(assignment["id"], "submissions", {"body": "Second try"}, expect=201)
    refused = await api.post(f"/v1/assignments/{assignment['id']}/reviews", {"outcome": "revise", "scores": low, "feedback": "Again"})
    problem(refused, 409, "review.no_attempts_left")
    await api.act(assignment["id"], "reviews", {"outcome": "fail", "scores": low, "feedback": "Not there yet."}, expect=201)
    assert (await api.assignment(assignment["id"]))["state"] == "failed"
    submissions = (await api.get(f"/v1/assignments/{assignment['id']}/submissions")).json()["items"]
    assert [s["attempt"] for s in submissions] == [1, 2]
    reviews = (await api.get(f"/v1/assignments/{assignment['id']}/reviews")).json()["items"]
    assert [r["outcome"] for r in reviews] == ["revise", "fail"]


async def test_pass_below_pass_score_is_refused_and_changes_nothing(api: Api) -> None:
    assignment = await api.submitted()
    low = [{"criterion": "correctness", "score": 1}, {"criterion": "clarity", "score": 4}]  # 62.5 >= 60 passes
    lower = [{"criterion": "correctness", "score": 1}, {"criterion": "clarity", "score": 0}]  # 37.5
    body = problem(await api.post(f"/v1/assignments/{assignment['id']}/reviews", {"outcome": "pass", "scores": lower, "feedback": "ok"}), 422, "review.below_pass_score")
    assert "60" in body["detail"] and "37.5" in body["detail"]
    assert (await api.assignment(assignment["id"]))["version"] == assignment["version"]
    review = await api.act(assignment["id"], "reviews", {"outcome": "pass", "scores": low, "feedback": "ok"}, expect=201)
    assert review["score"] == 62.5


async def test_decline_and_withdraw_are_terminal(api: Api) -> None:
    declined = await api.offered()
    result = await api.act(declined["id"], "decline", {"reason": "On leave"})
    assert (result["state"], result["allowed_actions"]) == ("declined", [])
    assert (await api.events(declined["id"]))[-1]["details"]["reason"] == "On leave"
    problem(await api.post(f"/v1/assignments/{declined['id']}/accept"), 409, "assignment.invalid_transition")

    running = await api.accepted()
    problem(await api.post(f"/v1/assignments/{running['id']}/withdraw", {}), 422, "validation_failed")
    withdrawn = await api.act(running["id"], "withdraw", {"reason": "Priorities changed"})
    assert withdrawn["state"] == "withdrawn"


async def test_invalid_transition_names_state_and_allowed_actions(api: Api) -> None:
    assignment = await api.offered()
    body = problem(await api.post(f"/v1/assignments/{assignment['id']}/submissions", {"body": "x"}), 409, "assignment.invalid_transition")
    assert body["state"] == "offered"
    assert body["allowed_actions"] == ["accept", "decline", "withdraw"]


async def test_expired_offer_reads_as_expired_and_cannot_be_accepted(api: Api) -> None:
    assignment = await api.offered(offer_expires_at=iso(api.clock.now() + timedelta(hours=1)))
    api.clock.advance(hours=1)
    read = await api.assignment(assignment["id"])
    assert (read["state"], read["allowed_actions"]) == ("expired", [])
    body = problem(await api.post(f"/v1/assignments/{assignment['id']}/accept"), 409, "assignment.invalid_transition")
    assert body["state"] == "expired"
    listed = (await api.get("/v1/assignments", params={"state": "offered", "assignee_id": assignment["assignee_id"]})).json()
    assert listed["items"] == []
    expired = (await api.get("/v1/assignments", params={"state": "expired", "assignee_id": assignment["assignee_id"]})).json()
    assert [a["id"] for a in expired["items"]] == [assignment["id"]]


async def test_accept_with_a_chosen_start(api: Api) -> None:
    assignment = await api.offered()
    start = api.clock.now() + timedelta(days=1)
    accepted = await api.act(assignment["id"], "accept", {"starts_at": iso(start)})
    assert accepted["starts_at"] == iso(start) and accepted["due_at"] == iso(start + timedelta(hours=3))

    other = await api.offered()
    late_start = api.clock.now() + timedelta(days=8)
    problem(await api.post(f"/v1/assignments/{other['id']}/accept", {"starts_at": iso(late_start)}), 422, "assignment.invalid_starts_at")
    problem(await api.post(f"/v1/assignments/{other['id']}/accept", {"starts_at": "2026-11-24T10:00:00"}), 422, "validation_failed")


async def test_late_submission_within_grace_then_refused_after_it(api: Api) -> None:
    assignment = await api.accepted(brief={"late_grace": "PT1H"})
    api.clock.advance(hours=3, minutes=30)
    submission = await api.act(assignment["id"], "submissions", {"body": "late but here"}, expect=201)
    assert submission["late"] is True
    assert (await api.assignment(assignment["id"]))["late"] is True

    other = await api.accepted(brief={"late_grace": "PT1H"})
    api.clock.advance(hours=4)
    body = problem(await api.post(f"/v1/assignments/{other['id']}/submissions", {"body": "too late"}), 409, "assignment.invalid_transition")
    assert body["state"] == "timed_out"
    assert (await api.assignment(other["id"]))["state"] == "timed_out"


async def test_extend_reopens_a_timed_out_assignment(api: Api) -> None:
    assignment = await api.accepted()
    api.clock.advance(hours=5)
    assert (await api.assignment(assignment["id"]))["state"] == "timed_out"
    new_due = api.clock.now() + timedelta(days=1)
    problem(await api.post(f"/v1/assignments/{assignment['id']}/extend", {"due_at": iso(api.clock.now() - timedelta(minutes=1)), "reason": "x"}), 422, "assignment.invalid_due_at")
    extended = await api.act(assignment["id"], "extend", {"due_at": iso(new_due), "reason": "Sick day"})
    assert (extended["state"], extended["due_at"]) == ("accepted", iso(new_due))
    details = (await api.events(assignment["id"]))[-1]["details"]
    assert details["reason"] == "Sick day" and details["reopened"] is True
    assert details["previous_due_at"] == iso(api.clock.now() - timedelta(hours=2))
    await api.act(assignment["id"], "submissions", {"body": "done"}, expect=201)


async def test_reclaim_before_due_then_resubmit(api: Api) -> None:
    assignment = await api.submitted()
    reclaimed = await api.act(assignment["id"], "reclaim")
    assert reclaimed["state"] == "accepted" and reclaimed["submitted_at"] is None
    await api.act(assignment["id"], "submissions", {"body": "better"}, expect=201)
    statuses = [s["status"] for s in (await api.get(f"/v1/assignments/{assignment['id']}/submissions")).json()["items"]]
    assert statuses == ["reclaimed", "active"]
    api.clock.advance(hours=4)
    problem(await api.post(f"/v1/assignments/{assignment['id']}/reclaim"), 409, "assignment.reclaim_window_closed")


async def test_etag_and_if_match(api: Api) -> None:
    assignment = await api.offered()
    read = await api.get(f"/v1/assignments/{assignment['id']}")
    assert read.headers["etag"] == f'"{assignment["version"]}"'
    stale = '"999"'
    body = problem(await api.post(f"/v1/assignments/{assignment['id']}/accept", headers={"If-Match": stale}), 412, "precondition_failed")
    assert body["current_version"] == assignment["version"]
    assert (await api.assignment(assignment["id"]))["state"] == "offered"
    accepted = await api.post(f"/v1/assignments/{assignment['id']}/accept", headers={"If-Match": read.headers["etag"]})
    assert accepted.status_code == 200
    assert accepted.headers["etag"] == f'"{assignment["version"] + 1}"'


async def test_offer_refusals(api: Api) -> None:
    manager, report = await api.team()
    draft = await api.brief(publish=False)
    problem(await api.post("/v1/assignments", {"brief_id": draft["id"], "assignee_id": report["id"]}), 409, "brief.not_published")
    brief = await api.brief()
    loner = await api.person()
    problem(await api.post("/v1/assignments", {"brief_id": brief["id"], "assignee_id": loner["id"]}), 422, "assignment.reviewer_required")
    problem(await api.post("/v1/assignments", {"brief_id": brief["id"], "assignee_id": report["id"], "reviewer_id": report["id"]}), 422, "assignment.self_review")
    ok = await api.created("/v1/assignments", {"brief_id": brief["id"], "assignee_id": loner["id"], "reviewer_id": manager["id"], "external_ref": "lms-42"})
    assert ok["reviewer_id"] == manager["id"] and ok["external_ref"] == "lms-42"
    problem(await api.post("/v1/assignments", {"brief_id": brief["id"], "assignee_id": report["id"], "external_ref": "lms-42"}), 409, "assignment.external_ref_taken")
    past = iso(api.clock.now() - timedelta(minutes=1))
    problem(await api.post("/v1/assignments", {"brief_id": brief["id"], "assignee_id": report["id"], "offer_expires_at": past}), 422, "assignment.invalid_offer_expiry")
    far = iso(api.clock.now() + timedelta(days=91))
    problem(await api.post("/v1/assignments", {"brief_id": brief["id"], "assignee_id": report["id"], "offer_expires_at": far}), 422, "assignment.invalid_offer_expiry")
    inactive = await api.person(manager_id=manager["id"], active=False)
    problem(await api.post("/v1/assignments", {"brief_id": brief["id"], "assignee_id": inactive["id"]}), 422, "assignment.unknown_assignee")


async def test_editing_a_published_brief_never_changes_running_work(api: Api) -> None:
    assignment = await api.offered()
    brief_id = assignment["brief_id"]
    edited = (await api.patch(f"/v1/briefs/{brief_id}", {"title": "New title", "timebox": "P1D"})).json()
    assert (edited["status"], edited["revision"], edited["published_revision"]) == ("published", 2, 1)
    assert (await api.assignment(assignment["id"]))["brief"]["title"] == "Speed up the weekly report query"
    # New offers keep pinning revision 1 until revision 2 is published.
    again = await api.offered(brief_id=brief_id)
    assert again["brief_version"] == 1 and again["brief"]["timebox"] == "PT3H"
    await api.post(f"/v1/briefs/{brief_id}/publish")
    newest = await api.offered(brief_id=brief_id)
    assert newest["brief_version"] == 2 and newest["brief"]["timebox"] == "P1D" and newest["brief"]["title"] == "New title"
    accepted = await api.act(assignment["id"], "accept")
    assert accepted["due_at"] == iso(api.clock.now() + timedelta(hours=3)), "the pinned timebox applies"


async def test_an_inactive_manager_is_not_a_default_reviewer(api: Api) -> None:
    manager, report = await api.team()
    await api.patch(f"/v1/people/{manager['id']}", {"active": False})
    brief = await api.brief()
    problem(await api.post("/v1/assignments", {"brief_id": brief["id"], "assignee_id": report["id"]}), 422, "assignment.reviewer_required")
    problem(await api.post("/v1/assignments", {"brief_id": brief["id"], "assignee_id": report["id"], "reviewer_id": manager["id"]}), 422, "assignment.unknown_reviewer")


async def test_an_extension_only_moves_due_at_later(api: Api) -> None:
    assignment = await api.accepted()
    earlier = iso(api.clock.now() + timedelta(hours=1))
    problem(await api.post(f"/v1/assignments/{assignment['id']}/extend", {"due_at": earlier, "reason": "shorten"}), 422, "assignment.invalid_due_at")
    assert (await api.assignment(assignment["id"]))["due_at"] == assignment["due_at"]
