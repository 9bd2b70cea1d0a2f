"""In-memory adapters for every port, for service tests: the same contracts as the SQL ones.

Modules: `base` (a tenant's rows and the write log), `records` (people, catalogue, assignments, work,
events, imports), `webhooks` (webhooks, deliveries, statements, the outbox rule on commit), `workers`
(the outbox and deadline queue across tenants), `database` (units of work and the database)."""

from app.repositories.memory.base import Store
from app.repositories.memory.database import MemoryDatabase, MemoryUnitOfWork
from app.repositories.memory.records import (
    MemoryAssignments,
    MemoryBriefs,
    MemoryEvents,
    MemoryEvidence,
    MemoryExtensions,
    MemoryImports,
    MemoryPeople,
    MemoryReviews,
    MemorySkills,
    MemorySubmissions,
)
from app.repositories.memory.statements import MemoryLrsDeliveries, MemoryStatementStore
from app.repositories.memory.webhooks import MemoryDeliveries, MemoryWebhooks
from app.repositories.memory.workers import (
    MemoryDeadlineQueue,
    MemoryOutbox,
    MemoryOutboxUnitOfWork,
    MemorySweepUnitOfWork,
)

__all__ = [
    "MemoryAssignments", "MemoryBriefs", "MemoryDatabase", "MemoryDeadlineQueue", "MemoryDeliveries", "MemoryEvents",
    "MemoryEvidence", "MemoryExtensions", "MemoryImports", "MemoryOutbox", "MemoryOutboxUnitOfWork", "MemoryPeople",
    "MemoryReviews", "MemorySkills", "MemoryLrsDeliveries", "MemoryStatementStore", "MemorySubmissions", "MemorySweepUnitOfWork",
    "MemoryUnitOfWork", "MemoryWebhooks", "Store",
]
