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
