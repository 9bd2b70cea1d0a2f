"""People in a tenant, as pushed in by an HRIS."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from app.domain.errors import invalid


@dataclass
class Person:
    id: UUID
    tenant_id: UUID
    external_id: str
    display_name: str
    email: str | None
    manager_id: UUID | None
    team: str | None
    title: str | None
    active: bool
    version: int
    created_at: datetime
    updated_at: datetime
    is_admin: bool = False


@dataclass(frozen=True)
class TeamMember:
    """Someone below a manager: how far below, and how much open work they hold."""

    person: Person
    depth: int
    open_assignments: int


EDITABLE_PERSON_FIELDS = frozenset({"external_id", "display_name", "email", "manager_id", "team", "title", "active", "is_admin"})


def check_manager(person_id: UUID, manager_id: UUID | None, chain_above_manager: list[UUID]) -> None:
    """Refuse a manager that is the person, or one that reports (at any depth) to the person."""
    if manager_id is None:
        return
    if manager_id == person_id or person_id in chain_above_manager:
        raise invalid(
            ("manager_id",),
            "A person cannot be managed by themselves or by someone who reports to them.",
            "manager_cycle",
            code="person.manager_cycle",
        )
