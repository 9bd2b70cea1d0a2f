"""Rows <-> domain objects. Nested values go through pydantic TypeAdapters over the domain dataclasses."""

from __future__ import annotations

import dataclasses
from typing import Any
from uuid import UUID

from cachetools import LRUCache
from pydantic import TypeAdapter
from pydantic_core import to_jsonable_python
from sqlalchemy import Row

from app.domain.actors import ActorRef, ActorType, Scope
from app.domain.assignment import Assignment, State
from app.domain.batch import ItemStatus
from app.domain.briefs import Brief, BriefContent, BriefStatus, CriterionScore
from app.domain.deadlines import ReminderPolicy, next_deadline
from app.domain.events import Event
from app.domain.identity import IdentityProvider, SubjectMatch
from app.domain.imports import ImportFormat, ImportJob, ImportKind, ImportState
from app.domain.keys import ApiKey, Tenant
from app.domain.people import Person
from app.domain.skills import Skill, SkillLevel
from app.domain.webhooks import Delivery, DeliveryStatus, Webhook, WebhookKind
from app.domain.work import (
    Attachment,
    Evidence,
    Extension,
    Link,
    Outcome,
    Review,
    Submission,
    SubmissionContent,
    SubmissionStatus,
)

_content = TypeAdapter(BriefContent)
_levels = TypeAdapter(tuple[SkillLevel, ...])
_links = TypeAdapter(tuple[Link, ...])
_attachments = TypeAdapter(tuple[Attachment, ...])
_scores = TypeAdapter(tuple[CriterionScore, ...])


def jsonable(value: Any) -> Any:
    return to_jsonable_python(value)


# Enum members by value: a dict lookup is several times faster than calling the enum, on every row read.
_ACTOR_TYPES = {member.value: member for member in ActorType}
_STATES = {member.value: member for member in State}
_OUTCOMES = {member.value: member for member in Outcome}


def _actor(type_: str, id_: Any, on_behalf_of: Any = None) -> ActorRef:
    return ActorRef(_ACTOR_TYPES[type_], id_, on_behalf_of)


# -- people, skills, briefs ---------------------------------------------------
def person_values(person: Person) -> dict[str, Any]:
    return {name: getattr(person, name) for name in (
        "tenant_id", "id", "external_id", "display_name", "email", "manager_id", "team", "title",
        "active", "is_admin", "version", "created_at", "updated_at")}


_PERSON_FIELDS = tuple(f.name for f in dataclasses.fields(Person))


def person_from(row: Row) -> Person:
    return person_from_values(row._mapping)


def person_from_values(values: Any) -> Person:
    return Person(**{name: values[name] for name in _PERSON_FIELDS})


def skill_values(skill: Skill) -> dict[str, Any]:
    return {
        "tenant_id": skill.tenant_id, "id": skill.id, "key": skill.key, "name": skill.name,
        "description": skill.description, "framework": skill.framework, "framework_ref": skill.framework_ref,
        "levels": _levels.dump_python(skill.levels, mode="json"), "version": skill.version,
        "created_at": skill.created_at, "updated_at": skill.updated_at,
    }


def skill_from(row: Row) -> Skill:
    values = dict(row._mapping)
    values["levels"] = _levels.validate_python(values["levels"])
    return Skill(**values)


def content_to_json(content: BriefContent) -> dict[str, Any]:
    return _content.dump_python(content, mode="json")


PinnedKey = tuple[UUID, UUID, int]
"""(tenant_id, brief_id, brief_version): a pinned brief version."""
_PINNED: LRUCache[PinnedKey, tuple[BriefContent, dict[str, Any] | None]] = LRUCache(maxsize=4096)
"""The one per-process cache of pinned brief versions: the content and, once written, its JSON column value.
Safe because a published brief version is frozen: every assignment pinning it holds the same content."""


def pinned_json(a: Assignment) -> dict[str, Any]:
    """The JSON of the assignment's pinned brief, built once per brief version: the assignments offered from
    one version share it (a batch of 1,000 offers). Read-only."""
    key = (a.tenant_id, a.brief_id, a.brief_version)
    hit = _PINNED.get(key)
    if hit is not None and hit[0] is a.brief and hit[1] is not None:
        return hit[1]
    value = content_to_json(a.brief)
    _PINNED[key] = (a.brief, value)
    return value


def pinned_content(key: PinnedKey) -> BriefContent | None:
    hit = _PINNED.get(key)
    return None if hit is None else hit[0]


def pin(key: PinnedKey, value: dict[str, Any]) -> BriefContent:
    """Remember a pinned version read from its JSON column."""
    content = content_from_json(value)
    _PINNED[key] = (content, None)
    return content


def content_from_json(value: dict[str, Any]) -> BriefContent:
    return _content.validate_python(value)


def brief_values(brief: Brief) -> dict[str, Any]:
    return {
        "tenant_id": brief.tenant_id, "id": brief.id, "skill_id": brief.content.skill_id,
        "status": brief.status.value, "revision": brief.revision, "published_revision": brief.published_revision,
        "content": content_to_json(brief.content),
        "published": None if brief.published is None else content_to_json(brief.published),
        "version": brief.version, "created_at": brief.created_at, "updated_at": brief.updated_at, "key": brief.key,
    }


def brief_from(row: Row) -> Brief:
    m = row._mapping
    return Brief(
        id=m["id"], tenant_id=m["tenant_id"], content=content_from_json(m["content"]), status=BriefStatus(m["status"]),
        revision=m["revision"], published_revision=m["published_revision"],
        published=None if m["published"] is None else content_from_json(m["published"]),
        version=m["version"], created_at=m["created_at"], updated_at=m["updated_at"], key=m["key"],
    )


# -- assignments and the work on them -----------------------------------------
_ASSIGNMENT_PLAIN = (
    "tenant_id", "id", "brief_id", "brief_version", "assignee_id", "reviewer_id", "offer_expires_at",
    "context_note", "external_ref", "attempt", "starts_at", "due_at", "submitted_at", "review_due_at",
    "score", "late", "version", "created_at", "updated_at",
    "offer_expiring_notified", "due_soon_notified", "review_overdue_notified",
)


def assignment_values(a: Assignment, policy: ReminderPolicy) -> dict[str, Any]:
    """The row, with the derived columns queries filter on: timeout_at and the sweeper's next_deadline_at."""
    values = {name: getattr(a, name) for name in _ASSIGNMENT_PLAIN}
    values.update(
        brief=pinned_json(a), skill_id=a.skill_id, offered_by_type=a.offered_by.type.value,
        offered_by_id=a.offered_by.id, offered_by_on_behalf_of=a.offered_by.on_behalf_of, state=a.state.value, timeout_at=a.timeout_at,
        outcome=None if a.outcome is None else a.outcome.value, next_deadline_at=next_deadline(a, policy),
    )
    return values


def assignment_event_data(a: Assignment) -> dict[str, Any]:
    """An assignment as events carry it: without the pinned brief (fetch it by brief_id/brief_version).

    Plain Python values: the engine's JSON serialiser (pydantic-core) writes datetimes, UUIDs and enums.
    """
    data = {name: getattr(a, name) for name in _EVENT_FIELDS}
    by = a.offered_by  # as a dict: the same JSON, written in half the time of a dataclass
    data.update(
        offered_by={"type": by.type, "id": by.id, "on_behalf_of": by.on_behalf_of},
        skill_id=a.skill_id, max_attempts=a.max_attempts, timeout_at=a.timeout_at,
        brief_title=a.brief.title, target_level=a.brief.target_level,
    )
    return data


_EVENT_OMITS = frozenset({"tenant_id", "brief", "offer_expiring_notified", "due_soon_notified", "review_overdue_notified"})
_EVENT_FIELDS = tuple(f.name for f in dataclasses.fields(Assignment) if f.name not in _EVENT_OMITS)


def assignment_from(row: Row, brief: BriefContent) -> Assignment:
    """`brief` is the pinned version, supplied by the caller (rows are read without it)."""
    m = row._mapping  # next_deadline_at and timeout_at are derived: not read back
    return Assignment(
        **{name: m[name] for name in _ASSIGNMENT_PLAIN},
        brief=brief,
        offered_by=_actor(m["offered_by_type"], m["offered_by_id"], m["offered_by_on_behalf_of"]),
        state=_STATES[m["state"]],
        outcome=None if m["outcome"] is None else _OUTCOMES[m["outcome"]],
    )


def submission_values(s: Submission) -> dict[str, Any]:
    return {
        "tenant_id": s.tenant_id, "id": s.id, "assignment_id": s.assignment_id, "attempt": s.attempt,
        "body": s.content.body, "links": _links.dump_python(s.content.links, mode="json"),
        "attachments": _attachments.dump_python(s.content.attachments, mode="json"),
        "time_spent": s.content.time_spent, "submitted_by_type": s.submitted_by.type.value,
        "submitted_by_id": s.submitted_by.id, "submitted_at": s.submitted_at, "late": s.late,
        "status": s.status.value, "reclaimed_at": s.reclaimed_at,
    }


def submission_from(row: Row) -> Submission:
    m = row._mapping
    return Submission(
        id=m["id"], tenant_id=m["tenant_id"], assignment_id=m["assignment_id"], attempt=m["attempt"],
        content=SubmissionContent(
            body=m["body"], links=_links.validate_python(m["links"]),
            attachments=_attachments.validate_python(m["attachments"]), time_spent=m["time_spent"],
        ),
        submitted_by=_actor(m["submitted_by_type"], m["submitted_by_id"]), submitted_at=m["submitted_at"],
        late=m["late"], status=SubmissionStatus(m["status"]), reclaimed_at=m["reclaimed_at"],
    )


def review_values(r: Review) -> dict[str, Any]:
    return {
        "tenant_id": r.tenant_id, "id": r.id, "assignment_id": r.assignment_id, "submission_id": r.submission_id,
        "attempt": r.attempt, "reviewer_id": r.reviewer_id, "reviewed_by_type": r.reviewed_by.type.value,
        "reviewed_by_id": r.reviewed_by.id, "outcome": r.outcome.value,
        "scores": _scores.dump_python(r.scores, mode="json"), "score": r.score, "feedback": r.feedback,
        "created_at": r.created_at,
    }


def review_from(row: Row) -> Review:
    m = row._mapping
    return Review(
        id=m["id"], tenant_id=m["tenant_id"], assignment_id=m["assignment_id"], submission_id=m["submission_id"],
        attempt=m["attempt"], reviewer_id=m["reviewer_id"], reviewed_by=_actor(m["reviewed_by_type"], m["reviewed_by_id"]),
        outcome=Outcome(m["outcome"]), scores=_scores.validate_python(m["scores"]), score=m["score"],
        feedback=m["feedback"], created_at=m["created_at"],
    )


def evidence_values(e: Evidence) -> dict[str, Any]:
    return {name: getattr(e, name) for name in (
        "tenant_id", "id", "person_id", "skill_id", "level", "assignment_id", "review_id", "score", "created_at")}


def evidence_from(row: Row) -> Evidence:
    return Evidence(**row._mapping)


def event_values(e: Event) -> dict[str, Any]:
    if isinstance(e.data, Assignment):
        data = assignment_event_data(e.data)
    elif isinstance(e.data, Webhook):
        data = e.data.public()
    else:
        data = jsonable(e.data)
        data.pop("tenant_id", None)  # the event's own tenant; never part of a representation
    return {
        "tenant_id": e.tenant_id, "id": e.id, "type": e.type, "occurred_at": e.occurred_at,
        "actor_type": e.actor.type.value, "actor_id": e.actor.id, "actor_on_behalf_of": e.actor.on_behalf_of,
        "subject_type": e.subject_type,
        "subject_id": e.subject_id, "data": data, "details": e.details, "seq": e.seq, "pos": e.pos,
    }


def event_from(row: Row) -> Event:
    m = row._mapping
    return Event(
        id=m["id"], tenant_id=m["tenant_id"], type=m["type"], occurred_at=m["occurred_at"],
        actor=_actor(m["actor_type"], m["actor_id"], m["actor_on_behalf_of"]), subject_type=m["subject_type"], subject_id=m["subject_id"],
        data=m["data"], details=m["details"], seq=m["seq"], pos=m["pos"],
    )


# -- tenants and keys -----------------------------------------------------------
def tenant_from(row: Row) -> Tenant:
    return Tenant(**row._mapping)


def key_values(key: ApiKey) -> dict[str, Any]:
    return {
        "tenant_id": key.tenant_id, "id": key.id, "name": key.name, "scopes": sorted(s.value for s in key.scopes),
        "key_hash": key.key_hash, "hint": key.hint, "created_at": key.created_at, "revoked_at": key.revoked_at,
    }


def key_from(row: Row) -> ApiKey:
    values = dict(row._mapping)
    values["scopes"] = frozenset(Scope(s) for s in values["scopes"])
    return ApiKey(**values)


def extension_values(x: Extension) -> dict[str, Any]:
    return {
        "tenant_id": x.tenant_id, "id": x.id, "assignment_id": x.assignment_id, "attempt": x.attempt,
        "previous_due_at": x.previous_due_at, "due_at": x.due_at, "reason": x.reason, "reopened": x.reopened,
        "extended_by_type": x.extended_by.type.value, "extended_by_id": x.extended_by.id, "created_at": x.created_at,
    }


def extension_from(row: Row) -> Extension:
    m = row._mapping
    return Extension(
        id=m["id"], tenant_id=m["tenant_id"], assignment_id=m["assignment_id"], attempt=m["attempt"],
        previous_due_at=m["previous_due_at"], due_at=m["due_at"], reason=m["reason"], reopened=m["reopened"],
        extended_by=_actor(m["extended_by_type"], m["extended_by_id"]), created_at=m["created_at"],
    )


def idp_values(idp: IdentityProvider) -> dict[str, Any]:
    return {
        "tenant_id": idp.tenant_id, "issuer": idp.issuer, "audience": idp.audience, "claim": idp.claim,
        "match": idp.match.value, "jwks": idp.jwks, "jwks_url": idp.jwks_url, "pem_keys": list(idp.pem_keys),
        "created_at": idp.created_at, "updated_at": idp.updated_at,
    }


def idp_from(row: Row) -> IdentityProvider:
    values = dict(row._mapping)
    values.update(match=SubjectMatch(values["match"]), pem_keys=tuple(values["pem_keys"]))
    return IdentityProvider(**values)


_WEBHOOK_FIELDS = tuple(f.name for f in dataclasses.fields(Webhook))


def webhook_values(w: Webhook) -> dict[str, Any]:
    values = {name: getattr(w, name) for name in _WEBHOOK_FIELDS}
    values["event_types"] = list(w.event_types)
    values["kind"] = w.kind.value
    return values


def webhook_from(row: Row) -> Webhook:
    values = {name: row._mapping[name] for name in _WEBHOOK_FIELDS}
    values["event_types"] = tuple(values["event_types"])
    values["kind"] = WebhookKind(values["kind"])
    return Webhook(**values)


_DELIVERY_FIELDS = tuple(f.name for f in dataclasses.fields(Delivery))


def delivery_values(d: Delivery) -> dict[str, Any]:
    values = {name: getattr(d, name) for name in _DELIVERY_FIELDS}
    values["status"] = d.status.value
    return values


def delivery_from(row: Row) -> Delivery:
    values = {name: row._mapping[name] for name in _DELIVERY_FIELDS}
    values["status"] = DeliveryStatus(values["status"])
    return Delivery(**values)


def event_document(e: Event) -> dict[str, Any]:
    """The event as the feed, webhooks and xAPI show it, in JSON-ready values."""
    values = event_values(e)
    return jsonable({
        "id": e.id, "type": e.type, "occurred_at": e.occurred_at,
        "actor": {"type": e.actor.type.value, "id": e.actor.id, "on_behalf_of": e.actor.on_behalf_of},
        "subject": {"type": e.subject_type, "id": e.subject_id}, "data": values["data"], "details": values["details"],
    })


# -- import jobs ------------------------------------------------------------------
def import_job_values(job: ImportJob) -> dict[str, Any]:
    return {
        "tenant_id": job.tenant_id, "id": job.id, "kind": job.kind.value, "format": job.format.value, "state": job.state.value,
        "actor_type": job.actor.type.value, "actor_id": job.actor.id, "actor_on_behalf_of": job.actor.on_behalf_of,
        "scopes": sorted(s.value for s in job.scopes),
        "options": {} if job.retry_after_line is None else {"retry_after_line": job.retry_after_line},
        "rows_read": job.rows_read, "rows_processed": job.rows_processed,
        **{status.value: count for status, count in job.counts.items() if status is not ItemStatus.ERROR},
        "failed": job.counts[ItemStatus.ERROR], "cursor": job.cursor, "lease_until": job.lease_until, "error": job.error,
        "version": job.version, "created_at": job.created_at, "updated_at": job.updated_at, "finished_at": job.finished_at,
    }


def import_job_from(row: Row) -> ImportJob:
    m = row._mapping
    counts = {
        ItemStatus.CREATED: m["created"], ItemStatus.UPDATED: m["updated"],
        ItemStatus.UNCHANGED: m["unchanged"], ItemStatus.ERROR: m["failed"],
    }
    return ImportJob(
        id=m["id"], tenant_id=m["tenant_id"], kind=ImportKind(m["kind"]), format=ImportFormat(m["format"]),
        state=ImportState(m["state"]), actor=_actor(m["actor_type"], m["actor_id"], m["actor_on_behalf_of"]),
        scopes=frozenset(Scope(s) for s in m["scopes"]), version=m["version"], created_at=m["created_at"],
        updated_at=m["updated_at"], rows_read=m["rows_read"], rows_processed=m["rows_processed"], counts=counts,
        cursor=m["cursor"], lease_until=m["lease_until"], error=m["error"], finished_at=m["finished_at"],
        retry_after_line=(m["options"] or {}).get("retry_after_line"),
    )
