"""What every use case receives: the caller, time, ids and a way to open a unit of work."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar
from uuid import UUID

from app.domain.actors import Actor, ActorRef
from app.domain.errors import NotFound, PreconditionFailed
from app.domain.events import Event
from app.domain.ports import Clock, IdGenerator, UnitOfWork, UnitOfWorkFactory

T = TypeVar("T")


@dataclass(frozen=True)
class Context:
    actor: Actor
    clock: Clock
    ids: IdGenerator
    uow_factory: UnitOfWorkFactory

    def uow(self, *, readonly: bool = False) -> UnitOfWork:
        """`readonly`: the use case only reads, so storage may skip the transaction (one round trip less)."""
        return self.uow_factory(self.actor.tenant_id, readonly=readonly)


def check_if_match(current_version: int, expected_version: int | None) -> None:
    if expected_version is not None and expected_version != current_version:
        raise PreconditionFailed(current_version)


async def record(
    ctx: Context, uow: UnitOfWork, type_: str, subject: Any, details: dict[str, Any] | None = None, *,
    snapshot: bool = True, at: datetime | None = None,
) -> Event:
    """Append the event for a change, in the change's transaction. `data` is a snapshot of `subject`
    (`snapshot=False`: `subject` itself, for a caller that changes it no more in this unit of work).
    `at`: when the change happened, if the caller already read the clock for it (a batch's one moment)."""
    event = build_event(ctx.ids.new_id(), uow.tenant_id, type_, at or ctx.clock.now(), ctx.actor.ref, subject, details, snapshot=snapshot)
    await uow.events.add(event)
    return event


def build_event(
    event_id: UUID, tenant_id: UUID, type_: str, at: datetime, actor: ActorRef, subject: Any,
    details: dict[str, Any] | None = None, *, snapshot: bool = True,
) -> Event:
    """An event about `subject` (a domain entity); its type name is the subject type (Assignment -> assignment).

    `snapshot` copies the subject so later changes in the same unit of work cannot leak into the event;
    a caller that changes nothing more may skip the copy.
    """
    return Event(
        id=event_id,
        tenant_id=tenant_id,
        type=type_,
        occurred_at=at,
        actor=actor,
        subject_type=type(subject).__name__.lower(),
        subject_id=subject.id,
        data=dataclasses.replace(subject) if snapshot else subject,
        details=details or {},
    )


def require_found(item: T | None, kind: str, ident: UUID) -> T:
    if item is None:
        raise NotFound(kind, ident)
    return item
