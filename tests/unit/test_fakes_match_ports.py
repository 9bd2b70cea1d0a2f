"""Every fake has every method of its port, with the same signature: a port change cannot leave the fakes behind."""

from __future__ import annotations

import inspect
import typing
from typing import Any, Protocol
from uuid import uuid4

import pytest

from app.domain import ports
from app.repositories import memory
from tests.fakes import FakeSender
from tests.support import FakeClock

FAKES: dict[type, type] = {
    ports.PersonRepository: memory.MemoryPeople,
    ports.SkillRepository: memory.MemorySkills,
    ports.BriefRepository: memory.MemoryBriefs,
    ports.AssignmentRepository: memory.MemoryAssignments,
    ports.SubmissionRepository: memory.MemorySubmissions,
    ports.ReviewRepository: memory.MemoryReviews,
    ports.ExtensionRepository: memory.MemoryExtensions,
    ports.EvidenceRepository: memory.MemoryEvidence,
    ports.EventRepository: memory.MemoryEvents,
    ports.WebhookRepository: memory.MemoryWebhooks,
    ports.DeliveryRepository: memory.MemoryDeliveries,
    ports.ImportRepository: memory.MemoryImports,
    ports.StatementStore: memory.MemoryStatementStore,
    ports.LrsDeliveryRepository: memory.MemoryLrsDeliveries,
    ports.UnitOfWork: memory.MemoryUnitOfWork,
    ports.DeadlineQueue: memory.MemoryDeadlineQueue,
    ports.SweepUnitOfWork: memory.MemorySweepUnitOfWork,
    ports.Outbox: memory.MemoryOutbox,
    ports.OutboxUnitOfWork: memory.MemoryOutboxUnitOfWork,
    ports.WebhookSender: FakeSender,
    ports.Clock: FakeClock,
}
NOT_FAKED = {
    ports.IdGenerator: "the real adapter (Uuid7Ids) is pure and fast",
    ports.UnitOfWorkFactory: "MemoryDatabase.uow, checked below",
    ports.SweepUnitOfWorkFactory: "MemoryDatabase.sweep_uow, checked below",
    ports.OutboxUnitOfWorkFactory: "MemoryDatabase.outbox_uow, checked below",
    ports.TenantDirectory: "the API's plumbing: its tests run on the SQL adapter",
    ports.SignedInWork: "the API's plumbing: its tests run on the SQL adapter",
    ports.IdempotencyStore: "the API's plumbing: its tests run on the SQL adapter",
    ports.ImportQueue: "the import worker's: its tests run on the SQL adapter",
    ports.FeedNumbering: "PostgreSQL's after-commit numbering; the fakes number events as they commit",
    ports.OperationsStatsSource: "the metrics scrape's: its tests run on the SQL adapter",
    ports.StorageHealth: "storage itself (schema revision, pool): nothing to fake",
}
FACTORIES = {
    ports.UnitOfWorkFactory: memory.MemoryDatabase.uow,
    ports.SweepUnitOfWorkFactory: memory.MemoryDatabase.sweep_uow,
    ports.OutboxUnitOfWorkFactory: memory.MemoryDatabase.outbox_uow,
}


def _protocols() -> list[type]:
    return [
        value for value in vars(ports).values()
        if isinstance(value, type) and issubclass(value, Protocol) and value is not Protocol  # type: ignore[arg-type]
        and value.__module__ == ports.__name__ and getattr(value, "_is_protocol", False)
    ]


def _methods(protocol: type) -> dict[str, Any]:
    return {
        name: member for name, member in vars(protocol).items()
        if inspect.isfunction(member) and (not name.startswith("_") or name in ("__aenter__", "__aexit__", "__call__"))
    }


def _shape(function: Any) -> tuple[list[tuple[str, Any, Any]], dict[str, Any]]:
    """Parameter names, kinds and defaults, and the annotations resolved (however each module spells them)."""
    parameters = [(p.name, p.kind, p.default) for p in inspect.signature(function).parameters.values()]
    return parameters, typing.get_type_hints(function)


def test_every_port_has_a_fake_or_a_reason_not_to() -> None:
    assert {p.__name__ for p in _protocols()} == {p.__name__ for p in [*FAKES, *NOT_FAKED]}


@pytest.mark.parametrize("protocol", list(FAKES), ids=lambda p: p.__name__)
def test_the_fake_has_every_method_of_its_port_with_the_same_signature(protocol: type) -> None:
    fake = FAKES[protocol]
    for name, method in _methods(protocol).items():
        assert hasattr(fake, name), f"{fake.__name__} lacks {protocol.__name__}.{name}"
        mine = getattr(fake, name)
        assert _shape(mine) == _shape(method), (
            f"{fake.__name__}.{name}{inspect.signature(mine)} differs from {protocol.__name__}.{name}{inspect.signature(method)}"
        )
        assert inspect.iscoroutinefunction(mine) == inspect.iscoroutinefunction(method), f"{fake.__name__}.{name}: async or not"


async def test_the_units_of_work_hold_the_fakes_of_every_repository_their_ports_name() -> None:
    db = memory.MemoryDatabase()
    entered = {
        ports.UnitOfWork: await db.uow(uuid4()).__aenter__(),
        ports.SweepUnitOfWork: await db.sweep_uow().__aenter__(),
        ports.OutboxUnitOfWork: await db.outbox_uow().__aenter__(),
    }
    for protocol, uow in entered.items():
        for name, kind in _attributes(protocol).items():
            assert hasattr(uow, name), f"{type(uow).__name__} lacks {protocol.__name__}.{name}"
            if kind in FAKES:
                assert isinstance(getattr(uow, name), FAKES[kind]), f"{type(uow).__name__}.{name} is not a {FAKES[kind].__name__}"


def _attributes(protocol: type) -> dict[str, Any]:
    """What the port holds: its annotated attributes and read-only properties, with their types."""
    found = dict(typing.get_type_hints(protocol))
    found.update({
        name: typing.get_type_hints(member.fget)["return"] for name, member in vars(protocol).items() if isinstance(member, property)
    })
    return found


@pytest.mark.parametrize("protocol", list(FACTORIES), ids=lambda p: p.__name__)
def test_the_memory_database_has_every_unit_of_work_factory(protocol: type) -> None:
    mine, theirs = _shape(FACTORIES[protocol]), _shape(protocol.__call__)
    assert mine[0] == theirs[0], "the same parameters"
    made = typing.get_type_hints(FACTORIES[protocol])["return"]
    assert made is FAKES[typing.get_type_hints(protocol.__call__)["return"]], "and it makes the fake of the port's unit of work"
