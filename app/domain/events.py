"""The append-only event log entry: one per change, written with the change."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from app.domain.actors import ActorRef


@dataclass(frozen=True)
class Event:
    id: UUID
    tenant_id: UUID
    type: str
    occurred_at: datetime
    actor: ActorRef
    subject_type: str
    subject_id: UUID
    data: Any
    """The resource after the change (a domain object; adapters serialise it)."""
    details: dict[str, Any] = field(default_factory=dict)
    seq: int | None = None
    """Position in the tenant's feed: gap-free, each event after every event it could depend on. Storage
    hands it out once the event's transaction has committed (or as it commits, where writers take turns)."""
    pos: int | None = None
    """Order of storing, given as the event is stored: later for a later change to the same subject,
    which orders one subject's webhook deliveries; numbers may be skipped."""


# Every event type Stint emits today. The list is open: consumers must ignore types they do not know.
EVENT_TYPES = (
    "person.created", "person.updated",
    "skill.created", "skill.updated",
    "brief.created", "brief.updated", "brief.published", "brief.archived",
    "assignment.offered", "assignment.accepted", "assignment.declined", "assignment.withdrawn",
    "assignment.expired", "assignment.submitted", "assignment.submission_reclaimed", "assignment.timed_out",
    "assignment.extended", "assignment.passed", "assignment.failed", "assignment.revision_requested",
    "assignment.due_soon", "offer.expiring", "review.overdue",
    "webhook.disabled", "webhook.ping",
)


def type_matches(pattern: str, event_type: str) -> bool:
    """`assignment.accepted` matches itself; `assignment.*` every assignment event; `*` everything."""
    if pattern == "*" or pattern == event_type:
        return True
    return pattern.endswith(".*") and event_type.startswith(pattern[:-1])
