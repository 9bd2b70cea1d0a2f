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
    WEBHOOKS_MANAGE = "webhooks:manage"
    ACT_AS = "act_as"


# A write scope implies reading the same resources.
_IMPLIED: dict[Scope, frozenset[Scope]] = {
    Scope.PEOPLE_WRITE: frozenset({Scope.PEOPLE_READ}),
    Scope.CATALOG_WRITE: frozenset({Scope.CATALOG_READ}),
    Scope.ASSIGNMENTS_WRITE: frozenset({Scope.ASSIGNMENTS_READ}),
    Scope.REVIEWS_WRITE: frozenset({Scope.ASSIGNMENTS_READ}),
}


# What a signed-in person may attempt; what they may do to each object is decided by access.py.
PERSON_SCOPES = frozenset({
    Scope.PEOPLE_READ, Scope.CATALOG_READ, Scope.ASSIGNMENTS_READ, Scope.ASSIGNMENTS_WRITE, Scope.REVIEWS_WRITE,
})


@dataclass(frozen=True)
class ActorRef:
    """The stored form of an actor: what events and `offered_by` record."""

    type: ActorType
    id: UUID | None
    on_behalf_of: UUID | None = None
    """The person an integration key acted for (Stint-Acting-For)."""


@dataclass(frozen=True)
class Actor:
    tenant_id: UUID
    type: ActorType
    id: UUID | None
    scopes: frozenset[Scope] = field(default_factory=frozenset)
    on_behalf_of: UUID | None = None

    @property
    def ref(self) -> ActorRef:
        return ActorRef(self.type, self.id, self.on_behalf_of)

    @property
    def person_id(self) -> UUID | None:
        """The person whose rights apply: the signed-in person, or the one a key acts for. None for integrations."""
        return self.id if self.type is ActorType.PERSON else self.on_behalf_of

    @property
    def is_admin(self) -> bool:
        return self.type is ActorType.SYSTEM or Scope.ADMIN in self.scopes

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


def person_actor(tenant_id: UUID, person_id: UUID, is_admin: bool) -> Actor:
    scopes = PERSON_SCOPES | {Scope.ADMIN} if is_admin else PERSON_SCOPES
    return Actor(tenant_id=tenant_id, type=ActorType.PERSON, id=person_id, scopes=frozenset(scopes))


def acting_for(key: Actor, person_id: UUID, is_admin: bool) -> Actor:
    """A key with act_as acting for a person: the person's rights, the key's identity, and never more
    than the key itself may do (an admin's rights need a key that holds admin too)."""
    if not key.has(Scope.ACT_AS):
        raise PermissionDenied("Acting for a person needs the 'act_as' scope.", code="forbidden.missing_scope", required_scope="act_as")
    scopes = {scope for scope in PERSON_SCOPES if key.has(scope)}
    if is_admin and key.has(Scope.ADMIN):
        scopes.add(Scope.ADMIN)
    return Actor(tenant_id=key.tenant_id, type=key.type, id=key.id, scopes=frozenset(scopes), on_behalf_of=person_id)
