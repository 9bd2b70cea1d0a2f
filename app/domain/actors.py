"""Who is calling, and what their scopes let them do."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from uuid import UUID

from app.domain.errors import PermissionDenied


class ActorType(StrEnum):
    API_KEY = "api_key"
    PERSON = "person"
    SYSTEM = "system"


class Scope(StrEnum):
    ADMIN = "admin"
    PEOPLE_READ = "people:read"
    PEOPLE_WRITE = "people:write"
    CATALOG_READ = "catalog:read"
    CATALOG_WRITE = "catalog:write"
    ASSIGNMENTS_READ = "assignments:read"
    ASSIGNMENTS_WRITE = "assignments:write"
    REVIEWS_WRITE = "reviews:write"
    EVENTS_READ = "events:read"


# A write scope implies reading the same resources.
_IMPLIED: dict[Scope, frozenset[Scope]] = {
    Scope.PEOPLE_WRITE: frozenset({Scope.PEOPLE_READ}),
    Scope.CATALOG_WRITE: frozenset({Scope.CATALOG_READ}),
    Scope.ASSIGNMENTS_WRITE: frozenset({Scope.ASSIGNMENTS_READ}),
    Scope.REVIEWS_WRITE: frozenset({Scope.ASSIGNMENTS_READ}),
}


@dataclass(frozen=True)
class ActorRef:
    """The stored form of an actor: what events and `offered_by` record."""

    type: ActorType
    id: UUID | None


@dataclass(frozen=True)
class Actor:
    tenant_id: UUID
    type: ActorType
    id: UUID | None
    scopes: frozenset[Scope] = field(default_factory=frozenset)

    @property
    def ref(self) -> ActorRef:
        return ActorRef(self.type, self.id)

    def has(self, scope: Scope) -> bool:
        if self.type is ActorType.SYSTEM or Scope.ADMIN in self.scopes or scope in self.scopes:
            return True
        return any(scope in _IMPLIED.get(held, ()) for held in self.scopes)

    def require(self, scope: Scope) -> None:
        if not self.has(scope):
            raise PermissionDenied(
                f"This credential lacks the '{scope}' scope.", code="forbidden.missing_scope", required_scope=str(scope)
            )


def system_actor(tenant_id: UUID) -> Actor:
    return Actor(tenant_id=tenant_id, type=ActorType.SYSTEM, id=None)
