"""The schema, as SQLModel tables, one module per family. Alembic migrations are generated from this metadata.

Every table leads with `tenant_id` in its primary key and indexes, and references
other rows by (tenant_id, id), so no row can ever point into another tenant.
"""

from __future__ import annotations

from app.repositories.sql.tables.catalog import BriefRow, PersonRow, SkillRow
from app.repositories.sql.tables.columns import table_of
from app.repositories.sql.tables.delivery import EventCounterRow, EventRow, WebhookDeliveryRow, WebhookRow, XapiStatementRow
from app.repositories.sql.tables.directory import ApiKeyRow, IdempotencyKeyRow, IdentityProviderRow, TenantRow
from app.repositories.sql.tables.imports import ImportJobRow, ImportRowRow
from app.repositories.sql.tables.work import AssignmentRow, EvidenceRow, ExtensionRow, ReviewRow, SubmissionRow

tenants = table_of(TenantRow)
identity_providers = table_of(IdentityProviderRow)
api_keys = table_of(ApiKeyRow)
people = table_of(PersonRow)
skills = table_of(SkillRow)
briefs = table_of(BriefRow)
assignments = table_of(AssignmentRow)
submissions = table_of(SubmissionRow)
reviews = table_of(ReviewRow)
evidence = table_of(EvidenceRow)
extensions = table_of(ExtensionRow)
events = table_of(EventRow)
event_counters = table_of(EventCounterRow)
idempotency_keys = table_of(IdempotencyKeyRow)
webhooks = table_of(WebhookRow)
webhook_deliveries = table_of(WebhookDeliveryRow)
import_jobs = table_of(ImportJobRow)
import_rows = table_of(ImportRowRow)
xapi_statements = table_of(XapiStatementRow)
