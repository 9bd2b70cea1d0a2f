"""What every use case receives: the caller, time, ids and a way to open a unit of work."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, TypeVar
from uuid import UUID

from app.domain.actors import Actor
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

    def uow(self) -> UnitOfWork:
        return self.uow_factory(self.actor.tenant_id)


def check_if_match(current_version: int, expected_version: int | None) -> None:
    if expected_version is not None and expected_version != current_version:
        raise PreconditionFailed(current_version)


async def record(
    ctx: Context, uow: UnitOfWork, type_: str, subject: Any, details: dict[str, Any] | None = None
) -> Event:
    """Append the event for a change, in the change's transaction. `data` is a snapshot of `subject`."""
    subject_type = type_.split(".", 1)[0]
    event = Event(
        id=ctx.ids.new_id(),
        tenant_id=uow.tenant_id,
        type=type_,
        occurred_at=ctx.clock.now(),
        actor=ctx.actor.ref,
        subject_type=subject_type,
        subject_id=subject.id,
        data=dataclasses.replace(subject) if dataclasses.is_dataclass(subject) else subject,
        details=details or {},
    )
    await uow.events.add(event)
    return event


def require_found(item: T | None, kind: str, ident: UUID) -> T:
    if item is None:
        raise NotFound(kind, ident)
    return item
