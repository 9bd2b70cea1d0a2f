"""Lifecycle events as xAPI 1.0.3 statements, for learning record stores.

Pure mapping: the caller supplies the event (as the feed shows it), the assignee and the skill.
The statement id is a UUIDv5 of the event id, so sending a statement twice stores it once.

A statement is built once, when its event is stored, and kept as it was built: what the pull endpoint
serves and what the LRS receives are the same bytes, whatever changes later (docs/xapi.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid5

XAPI_VERSION = "1.0.3"
STATEMENT_NAMESPACE = UUID("5c7f4b7e-2b7a-4f0e-9a8e-3a7d1f0c9b21")
REGISTRATION_NAMESPACE = UUID("8d3f6a52-1c0e-4b9a-a7d4-6e2b5f9c0a17")
"""`context.registration` is the UUIDv5 of the assignment id in this namespace: stable, traceable, and of an
RFC 4122 version that version-strict libraries accept (assignment ids are UUIDv7, which some refuse)."""
ASSIGNMENT_EXTENSION = "urn:stint:xapi:ext:assignment-id"
ADL = "http://adlnet.gov/expapi/verbs/"
STINT_VERB = "urn:stint:xapi:verb:"

# event type -> (verb IRI, display)
VERBS: dict[str, tuple[str, str]] = {
    "assignment.offered": (ADL + "registered", "registered"),
    "assignment.accepted": (ADL + "initialized", "initialized"),
    "assignment.submitted": (ADL + "completed", "completed"),
    "assignment.passed": (ADL + "passed", "passed"),
    "assignment.failed": (ADL + "failed", "failed"),
    "assignment.revision_requested": (ADL + "scored", "scored"),
    "assignment.declined": (STINT_VERB + "declined", "declined"),
    "assignment.withdrawn": (STINT_VERB + "withdrawn", "withdrawn"),
    "assignment.expired": (STINT_VERB + "expired", "expired"),
    "assignment.timed_out": (STINT_VERB + "timed-out", "timed out"),
}
STATEMENT_TYPES = tuple(VERBS)
ASSESSMENT = "http://adlnet.gov/expapi/activities/assessment"
SKILL = "http://id.tincanapi.com/activitytype/skill"


@dataclass(frozen=True)
class Learner:
    external_id: str
    email: str | None
    display_name: str


@dataclass(frozen=True)
class StatementQuery:
    """A page of the stored statements: `after` is the seq the previous page ended at (None: the first page);
    the filters are xAPI's (`agent` as agent_key gives it)."""

    limit: int
    after: int | None = None
    ascending: bool = True
    since: datetime | None = None
    until: datetime | None = None
    verb: str | None = None
    activity: str | None = None
    agent: str | None = None
    registration: UUID | None = None


def registration(assignment_id: UUID | str) -> UUID:
    return uuid5(REGISTRATION_NAMESPACE, str(assignment_id))


def agent_key(agent: dict[str, Any]) -> str | None:
    """The agent's inverse functional identifier as one string, to match statements by `agent`; None if it has none."""
    if isinstance(agent.get("mbox"), str):
        return f"mbox:{agent['mbox']}"
    account = agent.get("account")
    if isinstance(account, dict) and isinstance(account.get("homePage"), str) and isinstance(account.get("name"), str):
        return f"account:{account['homePage']}|{account['name']}"
    return None


def iso_duration(value: timedelta) -> str:
    seconds = int(value.total_seconds())
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"PT{hours}H{minutes}M{seconds}S"


def statement(
    event: dict[str, Any], learner: Learner, skill_name: str | None, *, tenant_id: UUID, home_page: str, use_mbox: bool = False,
) -> dict[str, Any]:
    """One statement for a lifecycle event as the feed shows it (`data` is the assignment after the change)."""
    verb_id, verb_name = VERBS[event["type"]]
    data = event["data"]
    actor: dict[str, Any] = {"objectType": "Agent", "name": learner.display_name}
    if use_mbox and learner.email:
        actor["mbox"] = f"mailto:{learner.email}"
    else:
        actor["account"] = {"homePage": home_page, "name": learner.external_id}
    base = f"urn:stint:{tenant_id}"
    built: dict[str, Any] = {
        "id": str(uuid5(STATEMENT_NAMESPACE, str(event["id"]))),
        "actor": actor,
        "verb": {"id": verb_id, "display": {"en-US": verb_name}},
        "object": {
            "objectType": "Activity",
            "id": f"{base}:brief:{data['brief_id']}",
            "definition": {"name": {"en-US": data.get("brief_title") or "Micro-assignment"}, "type": ASSESSMENT},
        },
        "context": {
            "registration": str(registration(data["id"])),
            "contextActivities": {"category": [{
                "objectType": "Activity", "id": f"{base}:skill:{data['skill_id']}",
                "definition": {"name": {"en-US": skill_name or "Skill"}, "type": SKILL},
            }]},
            "extensions": {
                "urn:stint:xapi:ext:target-level": data.get("target_level"), "urn:stint:xapi:ext:attempt": data.get("attempt"),
                ASSIGNMENT_EXTENSION: str(data["id"]),
            },
        },
        "timestamp": event["occurred_at"],
    }
    result = _result(event["type"], data, event.get("details") or {})
    if result:
        built["result"] = result
    return built


def _result(type_: str, data: dict[str, Any], details: dict[str, Any]) -> dict[str, Any]:
    if type_ == "assignment.submitted":
        result: dict[str, Any] = {"completion": True}
        if details.get("time_spent"):
            result["duration"] = details["time_spent"]
        return result
    if type_ in ("assignment.passed", "assignment.failed", "assignment.revision_requested") and data.get("score") is not None:
        score = float(data["score"])
        return {
            "score": {"scaled": round(score / 100, 4), "raw": score, "min": 0, "max": 100},
            "success": type_ == "assignment.passed",
            "completion": type_ != "assignment.revision_requested",
        }
    return {}
