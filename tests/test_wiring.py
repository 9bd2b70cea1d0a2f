"""The composition root hands every port an adapter that has the port's methods, with the same parameters.

The Protocols are structural, so nothing at run time says an adapter still fits its port: a method renamed or
given another parameter on one side would only show up on the path that calls it. This reads the wiring
itself (app.main: the Runtime and the worker ports), so it follows whichever adapter is wired to a port."""

from __future__ import annotations

import inspect
from typing import Any, Protocol

import pytest

from app.domain import ports
from app.main import create_app, worker_ports
from app.repositories.sql.database import Database
from app.settings import Settings

URL = "sqlite+aiosqlite:///:memory:"  # the engine is never connected: only the adapters' shapes are read


def _members(port: type) -> dict[str, Any]:
    """The port's methods, `__call__` included (the factories); attributes (a unit of work's repositories) are left out."""
    names = {name for klass in port.__mro__ if klass not in (Protocol, object) for name in vars(klass)}
    return {
        name: getattr(port, name) for name in sorted(names)
        if (name == "__call__" or not name.startswith("_")) and inspect.isfunction(getattr(port, name, None))
    }


def _parameters(function: Any) -> list[tuple[str, Any, Any]]:
    signature = inspect.signature(function)
    return [(p.name, p.kind, p.default) for p in signature.parameters.values() if p.name != "self"]


def _check(adapter: Any, port: type) -> None:
    members = _members(port)
    assert members, f"{port.__name__} declares no methods"
    for name, declared in members.items():
        implemented = adapter if name == "__call__" and inspect.ismethod(adapter) else getattr(adapter, name, None)
        assert implemented is not None, f"{adapter!r} lacks {port.__name__}.{name}"
        assert _parameters(implemented) == _parameters(declared), f"{adapter!r}: {port.__name__}.{name} takes other parameters"
        assert inspect.iscoroutinefunction(implemented) == inspect.iscoroutinefunction(declared), f"{port.__name__}.{name}: async or not"


RUNTIME_PORTS = {
    "uow": ports.UnitOfWorkFactory,
    "directory": ports.TenantDirectory,
    "idempotency": ports.IdempotencyStore,
    "stats": ports.OperationsStatsSource,
    "health": ports.StorageHealth,
    "signed_in": ports.SignedInWork,
    "clock": ports.Clock,
    "ids": ports.IdGenerator,
}
WORKER_PORTS = {
    "sweep_uow": ports.SweepUnitOfWorkFactory,
    "outbox_uow": ports.OutboxUnitOfWorkFactory,
    "idempotency": ports.IdempotencyStore,
    "numbering": ports.FeedNumbering,
}
IMPORT_WORKER_PORTS = {
    "queue": ports.ImportQueue,
    "uow": ports.UnitOfWorkFactory,
    "directory": ports.TenantDirectory,
}


@pytest.mark.parametrize("field", sorted(RUNTIME_PORTS))
async def test_every_runtime_port_has_an_adapter_that_fits_it(field: str) -> None:
    database = Database.from_url(URL)
    runtime = create_app(Settings(database_url="unused://", rate_limit_per_second=0), database=database).state.runtime
    _check(getattr(runtime, field), RUNTIME_PORTS[field])
    await database.dispose()


@pytest.mark.parametrize("field", sorted(WORKER_PORTS))
async def test_every_worker_port_has_an_adapter_that_fits_it(field: str) -> None:
    database = Database.from_url(URL)
    _check(getattr(worker_ports(database), field), WORKER_PORTS[field])
    await database.dispose()


@pytest.mark.parametrize("field", sorted(IMPORT_WORKER_PORTS))
async def test_every_import_worker_port_has_an_adapter_that_fits_it(field: str) -> None:
    database = Database.from_url(URL)
    _check(getattr(worker_ports(database).imports, field), IMPORT_WORKER_PORTS[field])
    await database.dispose()
