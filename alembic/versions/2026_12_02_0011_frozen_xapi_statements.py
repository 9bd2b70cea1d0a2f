"""xAPI statements are stored when their events are, and served and pushed as stored (issue 23).

Statements of the events stored before this revision are built here once, from today's data (the best that
can be had for them), and are frozen from then on like every later one.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02
"""
from typing import Any, Sequence, Union

import sqlalchemy as sa
from alembic import op
from pydantic_core import to_json, to_jsonable_python

from app.domain import xapi
from app.repositories.sql.types import JSONType, UTCDateTime

revision: str = '0011'
down_revision: Union[str, None] = '0010'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

DEFAULT_HOME_PAGE = "http://127.0.0.1:8000"


def upgrade() -> None:
    op.create_table('xapi_statements',
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('event_id', sa.Uuid(), nullable=False),
    sa.Column('statement_id', sa.Uuid(), nullable=False),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('verb_id', sa.String(length=500), nullable=False),
    sa.Column('activity_id', sa.String(length=2000), nullable=False),
    sa.Column('agent', sa.String(length=2200), nullable=False),
    sa.Column('registration', sa.Uuid(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_xapi_statements_tenant_id_tenants')),
    sa.PrimaryKeyConstraint('tenant_id', 'event_id', name=op.f('pk_xapi_statements')),
    sa.UniqueConstraint('tenant_id', 'statement_id', name=op.f('uq_xapi_statements_tenant_id_statement_id'))
    )
    with op.batch_alter_table('xapi_statements', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_xapi_statements_tenant_id_registration'), ['tenant_id', 'registration'], unique=False)
    _backfill(op.get_bind())


def _backfill(conn: Any) -> None:
    events = sa.table('events', sa.column('tenant_id', sa.Uuid()), sa.column('id', sa.Uuid()), sa.column('type', sa.String()),
                      sa.column('occurred_at', UTCDateTime()), sa.column('data', JSONType), sa.column('details', JSONType))
    people = sa.table('people', sa.column('tenant_id', sa.Uuid()), sa.column('id', sa.Uuid()), sa.column('external_id', sa.String()),
                      sa.column('email', sa.String()), sa.column('display_name', sa.String()))
    skills = sa.table('skills', sa.column('tenant_id', sa.Uuid()), sa.column('id', sa.Uuid()), sa.column('name', sa.String()))
    hooks = sa.table('webhooks', sa.column('tenant_id', sa.Uuid()), sa.column('kind', sa.String()),
                     sa.column('xapi_home_page', sa.String()), sa.column('xapi_use_mbox', sa.Boolean()))
    statements = sa.table('xapi_statements', sa.column('tenant_id', sa.Uuid()), sa.column('event_id', sa.Uuid()),
                          sa.column('statement_id', sa.Uuid()), sa.column('occurred_at', UTCDateTime()), sa.column('verb_id', sa.String()),
                          sa.column('activity_id', sa.String()), sa.column('agent', sa.String()), sa.column('registration', sa.Uuid()),
                          sa.column('body', sa.Text()))
    lrs = {row.tenant_id: row for row in conn.execute(sa.select(hooks).where(hooks.c.kind == 'xapi'))}
    learners = {(r.tenant_id, r.id): xapi.Learner(r.external_id, r.email, r.display_name) for r in conn.execute(sa.select(people))}
    skill_names = {(r.tenant_id, r.id): r.name for r in conn.execute(sa.select(skills))}
    rows = []
    for event in conn.execute(sa.select(events).where(events.c.type.in_(xapi.STATEMENT_TYPES))):
        data = event.data or {}
        learner = learners.get((event.tenant_id, _uuid(data.get('assignee_id'))))
        if learner is None or 'brief_id' not in data or 'skill_id' not in data:
            continue
        settings = lrs.get(event.tenant_id)
        doc = to_jsonable_python({'id': event.id, 'type': event.type, 'occurred_at': event.occurred_at, 'data': data,
                                  'details': event.details or {}})
        built = xapi.statement(
            doc, learner, skill_names.get((event.tenant_id, _uuid(data['skill_id']))), tenant_id=event.tenant_id,
            home_page=(settings.xapi_home_page if settings is not None and settings.xapi_home_page else DEFAULT_HOME_PAGE),
            use_mbox=bool(settings is not None and settings.xapi_use_mbox),
        )
        rows.append({
            'tenant_id': event.tenant_id, 'event_id': event.id, 'statement_id': xapi.UUID(built['id']),
            'occurred_at': event.occurred_at, 'verb_id': built['verb']['id'], 'activity_id': built['object']['id'],
            'agent': xapi.agent_key(built['actor']) or '', 'registration': xapi.UUID(built['context']['registration']),
            'body': to_json(built).decode(),
        })
        if len(rows) >= 1000:
            conn.execute(statements.insert(), rows)
            rows = []
    if rows:
        conn.execute(statements.insert(), rows)


def _uuid(value: Any) -> Any:
    try:
        return xapi.UUID(str(value))
    except ValueError:
        return None


def downgrade() -> None:
    with op.batch_alter_table('xapi_statements', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_xapi_statements_tenant_id_registration'))

    op.drop_table('xapi_statements')
