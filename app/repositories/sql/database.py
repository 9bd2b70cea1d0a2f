"""Engine set-up, the SQL unit of work, and the tenant directory."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Self
from uuid import UUID

from pydantic_core import to_json
from dataclasses import dataclass

from sqlalchemy import and_, event, func, or_, select, tuple_, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from app.domain.deadlines import ReminderPolicy
from app.domain.errors import ConcurrentUpdate, Conflict, StorageUnavailable
from app.domain.identity import IdentityProvider
from app.domain.idempotency import KEPT_FOR, Attempt, Begun, StoredResponse
from app.domain.keys import ApiKey, Tenant
from app.repositories.sql import mapping as m
from app.repositories.sql import tables as t
from app.repositories.sql.driver import CONNECTION_FAILURES, connection_failed, driver_of
from app.repositories.sql.sequencer import number_every_tenant
from app.repositories.sql.repositories import (
    SqlAssignments, SqlBriefs, SqlDeadlineQueue, SqlDeliveries, SqlEvents, SqlEvidence, SqlExtensions, SqlOutbox, SqlPeople,
    SqlImports, SqlReviews, SqlSkills, SqlSubmissions, SqlWebhooks,
)
from app.repositories.sql.lrs import SqlLrsDeliveries
from app.repositories.sql.statements import SqlStatementStore, use_home_page


def _json_serializer(value: Any) -> str:
    """JSON columns take domain values as they are (datetimes, UUIDs, enums, dataclasses), written by pydantic-core."""
    return to_json(value).decode()


def make_engine(
    url: str, *, connect_timeout: float = 5.0, statement_timeout: float = 30.0, pool_size: int = 20, max_overflow: int = 10,
    **kwargs: Any,
) -> AsyncEngine:
    """`connect_timeout` and `statement_timeout` (seconds) bound how long a request waits on PostgreSQL
    before it answers 503, so an outage is reported quickly instead of piling requests up.

    `pool_size` connections stay open (PostgreSQL only); up to `max_overflow` more are opened under load and
    closed on return. Under the benchmark's 32 concurrent requests a pool of 10 reconnected (TLS attempt and
    authentication included) on a large share of requests: GET ran at 0.6x the rate it reaches with 20."""
    kwargs.setdefault("json_serializer", _json_serializer)
    kwargs.setdefault("hide_parameters", True)  # errors are logged; their parameters may hold secrets
    if url.startswith("sqlite"):
        engine = create_async_engine(url, connect_args={"timeout": 30}, **kwargs)
        _serialise_sqlite_writers(engine)
        return engine
    connect_args = {
        "timeout": connect_timeout,
        "command_timeout": statement_timeout,
        "server_settings": {"statement_timeout": str(int(statement_timeout * 1000))},
    }
    kwargs["connect_args"] = connect_args | kwargs.get("connect_args", {})
    options = {"pool_size": pool_size, "max_overflow": max_overflow, "pool_recycle": 1800} | kwargs
    return create_async_engine(url, **options)


def _serialise_sqlite_writers(engine: AsyncEngine) -> None:
    """SQLite: WAL, foreign keys, and BEGIN IMMEDIATE so concurrent transactions queue instead of failing.

    The driver's own transaction handling is turned off so SQLAlchemy's BEGIN is the one that runs
    (the recipe from SQLAlchemy's SQLite dialect documentation).
    """

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def _is_unavailable(exc: BaseException) -> bool:
    if isinstance(exc, (OSError, ConnectionError, TimeoutError)):
        return True
    if isinstance(exc, DBAPIError) and not isinstance(exc, IntegrityError):
        if exc.connection_invalidated or isinstance(exc.orig, (OSError, ConnectionError)):
            return True
        return "unable to open database file" in str(exc.orig)  # SQLite's file (or its folder) is not there
    return False


class SqlUnitOfWork:
    """One connection, one transaction, one tenant. Rolls back unless `commit()` was called."""

    def __init__(self, engine: AsyncEngine, tenant_id: UUID, policy: ReminderPolicy, readonly: bool = False) -> None:
        self._engine = engine
        self.tenant_id = tenant_id
        self._policy = policy
        self._readonly = readonly and engine.dialect.name == "postgresql"
        self._conn: AsyncConnection | None = None

    async def __aenter__(self) -> Self:
        conn = await self._open()
        tenant = self.tenant_id
        self.people = SqlPeople(conn, tenant)
        self.skills = SqlSkills(conn, tenant)
        self.briefs = SqlBriefs(conn, tenant)
        self.assignments = SqlAssignments(conn, tenant, self._policy)
        self.submissions = SqlSubmissions(conn, tenant)
        self.reviews = SqlReviews(conn, tenant)
        self.evidence = SqlEvidence(conn, tenant)
        self.extensions = SqlExtensions(conn, tenant)
        self.events = SqlEvents(conn, tenant)
        self.webhooks = SqlWebhooks(conn, tenant)
        self.deliveries = SqlDeliveries(conn, tenant)
        self.statements = SqlStatementStore(conn, tenant)
        self.lrs = SqlLrsDeliveries(conn, tenant)
        self.imports = SqlImports(conn, tenant)
        return self

    async def _open(self) -> AsyncConnection:
        try:
            self._conn = await self._engine.connect()
            if self._readonly:  # each read runs on its own: no BEGIN/ROLLBACK round trips (SQLite keeps its lock order)
                await self._conn.execution_options(isolation_level="AUTOCOMMIT")
            await self._conn.begin()
        except Exception as exc:
            if self._conn is not None:
                await self._conn.close()
            if _is_unavailable(exc) or isinstance(exc, DBAPIError):
                raise StorageUnavailable() from exc
            raise
        return self._conn

    async def commit(self) -> None:
        assert self._conn is not None
        if hasattr(self, "events"):
            await self.events.flush()
        await self._conn.commit()

    async def __aexit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        assert self._conn is not None
        try:
            await self._conn.rollback()  # a no-op after commit
            await self._conn.close()
        except Exception:
            if exc is None:
                raise
        if exc is not None and _is_unavailable(exc):
            raise StorageUnavailable() from exc
        if exc is not None and _is_contention(exc):
            raise ConcurrentUpdate("data") from exc


def _is_contention(exc: BaseException) -> bool:
    """PostgreSQL broke a deadlock, or refused to serialise: the transaction is sound, only unlucky."""
    return isinstance(exc, DBAPIError) and getattr(exc.orig, "sqlstate", None) in ("40P01", "40001")


class SqlSweepUnitOfWork(SqlUnitOfWork):
    """A transaction over every tenant's deadlines, for the sweeper only."""

    def __init__(self, engine: AsyncEngine, policy: ReminderPolicy) -> None:
        super().__init__(engine, UUID(int=0), policy)

    async def __aenter__(self) -> Self:
        self.deadlines = SqlDeadlineQueue(await self._open(), self._policy)
        return self


class SqlOutboxUnitOfWork(SqlUnitOfWork):
    """A transaction over every tenant's webhook deliveries, for the delivery worker only."""

    def __init__(self, engine: AsyncEngine, policy: ReminderPolicy) -> None:
        super().__init__(engine, UUID(int=0), policy)

    async def __aenter__(self) -> Self:
        self.outbox = SqlOutbox(await self._open())
        return self


@dataclass(frozen=True)
class OperationsStats:
    pending_deliveries: int
    failed_deliveries: int
    sweeper_lag_seconds: float


class Database:
    """The storage adapter as the app sees it: unit-of-work factories and the tenant directory."""

    def __init__(self, engine: AsyncEngine, policy: ReminderPolicy | None = None, *, statement_home_page: str | None = None) -> None:
        self.engine = engine
        self.policy = policy or ReminderPolicy()
        if statement_home_page:  # the actor homePage of xAPI statements made while a tenant has no LRS naming one
            use_home_page(engine, statement_home_page)

    @classmethod
    def from_url(cls, url: str, policy: ReminderPolicy | None = None, *, statement_home_page: str | None = None,
                 **engine_options: Any) -> "Database":
        return cls(make_engine(url, **engine_options), policy, statement_home_page=statement_home_page)

    def uow(self, tenant_id: UUID, *, readonly: bool = False) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.engine, tenant_id, self.policy, readonly)

    def sweep_uow(self) -> SqlSweepUnitOfWork:
        return SqlSweepUnitOfWork(self.engine, self.policy)

    def outbox_uow(self) -> SqlOutboxUnitOfWork:
        return SqlOutboxUnitOfWork(self.engine, self.policy)

    async def dispose(self) -> None:
        await self.engine.dispose()

    # -- the tenant directory ----------------------------------------------
    async def connect(self) -> AsyncConnection:
        """A pooled connection; none at all (a server that refuses, a SQLite file that cannot open) is StorageUnavailable."""
        try:
            return await self.engine.connect()
        except Exception as exc:
            if _is_unavailable(exc) or isinstance(exc, DBAPIError):
                raise StorageUnavailable() from exc
            raise

    async def _run(self, stmt: Any, *, write: bool = False) -> Any:
        """One statement; a read on PostgreSQL runs outside a transaction (no BEGIN/ROLLBACK round trips)."""
        conn = await self.connect()
        try:
            if not write:
                if self.engine.dialect.name == "postgresql":
                    await conn.execution_options(isolation_level="AUTOCOMMIT")
                return await conn.execute(stmt)
            async with conn.begin():
                return await conn.execute(stmt)
        except IntegrityError:
            raise
        except Exception as exc:
            if _is_unavailable(exc):
                raise StorageUnavailable() from exc
            raise
        finally:
            await conn.close()

    async def add_tenant(self, tenant: Tenant) -> None:
        try:
            async with self.engine.begin() as conn:
                await conn.execute(t.tenants.insert().values(id=tenant.id, slug=tenant.slug, name=tenant.name, created_at=tenant.created_at))
                await conn.execute(t.event_counters.insert().values(tenant_id=tenant.id, last_seq=0, webhooks_version=0))
        except IntegrityError as exc:
            raise Conflict(f"A tenant with slug '{tenant.slug}' already exists.", code="tenant.slug_taken") from exc

    async def tenant_by_slug(self, slug: str) -> Tenant | None:
        row = (await self._run(select(t.tenants).where(t.tenants.c.slug == slug))).first()
        return None if row is None else m.tenant_from(row)

    async def add_key(self, key: ApiKey) -> None:
        await self._run(t.api_keys.insert().values(m.key_values(key)), write=True)

    async def key_by_hash(self, key_hash: str) -> ApiKey | None:
        stmt = select(t.api_keys).where(t.api_keys.c.key_hash == key_hash, t.api_keys.c.revoked_at.is_(None))
        row = (await self._run(stmt)).first()
        return None if row is None else m.key_from(row)

    async def keys_of(self, tenant_id: UUID) -> list[ApiKey]:
        stmt = select(t.api_keys).where(t.api_keys.c.tenant_id == tenant_id).order_by(t.api_keys.c.id)
        return [m.key_from(row) for row in (await self._run(stmt)).all()]

    async def key_is_active(self, tenant_id: UUID, key_id: UUID) -> bool:
        c = t.api_keys.c
        stmt = select(c.id).where(c.tenant_id == tenant_id, c.id == key_id, c.revoked_at.is_(None))
        return (await self._run(stmt)).first() is not None

    async def revoke_key(self, tenant_id: UUID, key_id: UUID, at: datetime) -> bool:
        stmt = (
            update(t.api_keys)
            .where(t.api_keys.c.tenant_id == tenant_id, t.api_keys.c.id == key_id, t.api_keys.c.revoked_at.is_(None))
            .values(revoked_at=at)
        )
        return (await self._run(stmt, write=True)).rowcount == 1

    # -- identity providers ------------------------------------------------
    async def set_identity_provider(self, idp: IdentityProvider) -> None:
        """Create or replace the tenant's identity provider."""
        table = t.identity_providers
        async with self.engine.begin() as conn:
            await conn.execute(table.delete().where(table.c.tenant_id == idp.tenant_id))
            await conn.execute(table.insert().values(m.idp_values(idp)))

    async def identity_provider(self, tenant_id: UUID) -> IdentityProvider | None:
        row = (await self._run(select(t.identity_providers).where(t.identity_providers.c.tenant_id == tenant_id))).first()
        return None if row is None else m.idp_from(row)

    async def identity_providers_for(self, issuer: str) -> list[IdentityProvider]:
        rows = (await self._run(select(t.identity_providers).where(t.identity_providers.c.issuer == issuer))).all()
        return [m.idp_from(row) for row in rows]

    # -- idempotency keys --------------------------------------------------
    async def begin_idempotent(self, tenant_id: UUID, caller: str, key: str, fingerprint: str, now: datetime) -> Attempt:
        """Claim the key for this request, or say what to do instead (replay, mismatch, in flight)."""
        table = t.idempotency_keys
        where = (table.c.tenant_id == tenant_id, table.c.caller == caller, table.c.key == key)
        for _ in range(2):  # a second pass after clearing an expired key
            try:
                async with self.engine.begin() as conn:
                    await conn.execute(table.insert().values(
                        tenant_id=tenant_id, caller=caller, key=key, fingerprint=fingerprint, status=None, headers=[],
                        body=b"", created_at=now, expires_at=now + KEPT_FOR,
                    ))
                return Attempt(Begun.NEW)
            except IntegrityError:
                pass
            row = (await self._run(select(table).where(*where))).first()
            if row is None:
                continue  # released meanwhile: try again
            if row.expires_at <= now:
                await self._run(table.delete().where(*where, table.c.expires_at <= now), write=True)
                continue
            if row.fingerprint != fingerprint:
                return Attempt(Begun.MISMATCH)
            if row.status is None:
                return Attempt(Begun.IN_FLIGHT)
            headers = [(name, value) for name, value in row.headers]
            return Attempt(Begun.REPLAY, StoredResponse(row.status, headers, bytes(row.body)))
        return Attempt(Begun.IN_FLIGHT)

    async def finish_idempotent(self, tenant_id: UUID, caller: str, key: str, response: StoredResponse) -> None:
        table = t.idempotency_keys
        await self._run(
            table.update().where(table.c.tenant_id == tenant_id, table.c.caller == caller, table.c.key == key)
            .values(status=response.status, headers=[list(h) for h in response.headers], body=response.body),
            write=True,
        )

    async def release_idempotent(self, tenant_id: UUID, caller: str, key: str) -> None:
        """Forget a key whose request failed on our side (5xx), so the caller can retry with it."""
        table = t.idempotency_keys
        await self._run(table.delete().where(table.c.tenant_id == tenant_id, table.c.caller == caller, table.c.key == key), write=True)

    async def purge_idempotency_keys(self, now: datetime, limit: int = 10_000) -> int:
        table = t.idempotency_keys
        expired = select(table.c.tenant_id, table.c.caller, table.c.key).where(table.c.expires_at <= now).limit(limit)
        keys = (await self._run(expired)).all()
        if not keys:
            return 0
        await self._run(
            table.delete().where(tuple_(table.c.tenant_id, table.c.caller, table.c.key).in_([tuple(k) for k in keys])), write=True
        )
        return len(keys)

    async def number_waiting_events(self) -> int:
        """Give feed seqs to committed events still without one, for every tenant (PostgreSQL only: SQLite
        numbers events as it stores them). Polls do this too; the worker keeps the backlog short for
        tenants that poll rarely or never, so no poll pays for a long one."""
        if self.engine.dialect.name != "postgresql":
            return 0
        conn = await self.connect()
        try:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            numbered = await number_every_tenant(await driver_of(conn))
        except CONNECTION_FAILURES as exc:
            await connection_failed(conn, exc)
        finally:
            await conn.close()
        return numbered

    # -- import jobs: the worker's queue, across tenants ------------------------
    async def claim_import(self, now: datetime, lease: timedelta) -> tuple[UUID, UUID, int] | None:
        """Take the oldest queued job (or a running one whose worker's lease ran out) for `lease`:
        returns (tenant_id, job_id, version claimed at). Other workers skip a job being claimed."""
        j = t.import_jobs.c
        pending = or_(j.state == "queued", and_(j.state == "running", j.lease_until <= now))
        stmt = select(j.tenant_id, j.id, j.version).where(pending).order_by(j.created_at).limit(1)
        if self.engine.dialect.name == "postgresql":
            stmt = stmt.with_for_update(skip_locked=True)
        try:
            async with self.engine.begin() as conn:
                row = (await conn.execute(stmt)).first()
                if row is None:
                    return None
                await conn.execute(
                    update(t.import_jobs).where(j.tenant_id == row.tenant_id, j.id == row.id, j.version == row.version)
                    .values(state="running", lease_until=now + lease, version=row.version + 1)
                )
        except Exception as exc:
            if _is_unavailable(exc):
                raise StorageUnavailable() from exc
            raise
        return row.tenant_id, row.id, row.version + 1

    async def fail_broken_uploads(self, received_before: datetime, now: datetime) -> int:
        """Jobs still `receiving` long after they began lost their upload (the process serving it died):
        mark them failed and drop their rows."""
        j, r = t.import_jobs.c, t.import_rows.c
        async with self.engine.begin() as conn:
            stale = (await conn.execute(
                select(j.tenant_id, j.id).where(j.state == "receiving", j.created_at < received_before).limit(100)
            )).all()
            for tenant_id, job_id in stale:
                await conn.execute(t.import_rows.delete().where(r.tenant_id == tenant_id, r.job_id == job_id))
                await conn.execute(
                    update(t.import_jobs).where(j.tenant_id == tenant_id, j.id == job_id, j.state == "receiving")
                    .values(state="failed", error="The upload broke off before the file was in.", finished_at=now,
                            updated_at=now, version=j.version + 1)
                )
        return len(stale)

    async def operations_stats(self, now: datetime) -> OperationsStats:
        d, a = t.webhook_deliveries.c, t.assignments.c
        async with self.engine.connect() as conn:
            pending = (await conn.execute(select(func.count()).where(d.status == "pending"))).scalar() or 0
            failed = (await conn.execute(select(func.count()).where(d.status == "failed"))).scalar() or 0
            oldest = (await conn.execute(
                select(func.min(a.next_deadline_at)).where(a.next_deadline_at.is_not(None), a.next_deadline_at <= now)
            )).scalar()
        return OperationsStats(pending, failed, 0.0 if oldest is None else max(0.0, (now - oldest).total_seconds()))
