"""The deadline sweeper: expire offers, time out attempts, send reminders — on time, exactly once.

One tick claims due assignments in batches (each batch one transaction: claim with locks,
apply the domain, write states and events, commit) until nothing due is left. A sweeper that
dies mid-batch rolls back, and the rows go to whoever claims them next.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from app.domain.actors import ActorRef, ActorType
from app.domain.deadlines import ReminderPolicy, sweep
from app.domain.events import Event
from app.domain.ports import Clock, IdGenerator, SweepUnitOfWork
from app.services.context import build_event

SYSTEM = ActorRef(ActorType.SYSTEM, None)


@dataclass(frozen=True)
class TickReport:
    claimed: int
    transitioned: int
    reminders: int
    lag_seconds: float
    """How long the oldest deadline still due had been waiting when the tick started (0 when none)."""


async def sweep_batch(uow: SweepUnitOfWork, clock: Clock, ids: IdGenerator, policy: ReminderPolicy, batch_size: int) -> tuple[int,
    int, int]:
    """One transaction: returns (claimed, transitions, reminders)."""
    now = clock.now()
    async with uow:
        claimed = await uow.deadlines.claim_due(now, batch_size)
        swept, events = [], []
        for assignment in claimed:
            version = assignment.version
            for change in sweep(assignment, now, policy):  # at most one change: the assignment is final here
                events.append(build_event(
                    ids.new_id(), assignment.tenant_id, change.type, now, SYSTEM, assignment, change.details, snapshot=False,
                ))
            swept.append((assignment, version))
        await uow.deadlines.save(swept)
        await uow.deadlines.add_events(events)
        await uow.commit()
    transitions = sum(1 for e in events if _is_transition(e))
    return len(claimed), transitions, len(events) - transitions


def _is_transition(event: Event) -> bool:
    return event.type in {"assignment.expired", "assignment.timed_out"}


async def tick(
    new_uow: Callable[[], SweepUnitOfWork], clock: Clock, ids: IdGenerator, policy: ReminderPolicy, batch_size: int
) -> TickReport:
    """Sweep until a batch comes back short: everything due at the start of the tick is done."""
    async with new_uow() as probe:
        oldest = await probe.deadlines.oldest_due(clock.now())
    lag = 0.0 if oldest is None else max(0.0, (clock.now() - oldest).total_seconds())
    claimed = transitioned = reminders = 0
    while True:
        count, moved, sent = await sweep_batch(new_uow(), clock, ids, policy, batch_size)
        claimed, transitioned, reminders = claimed + count, transitioned + moved, reminders + sent
        if count < batch_size:
            return TickReport(claimed, transitioned, reminders, lag)
