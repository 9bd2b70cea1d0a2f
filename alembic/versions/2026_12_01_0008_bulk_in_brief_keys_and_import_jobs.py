"""Bulk in: brief keys and import jobs

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01
"""
from typing import Sequence, Union

import sqlalchemy as sa

from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0008'
down_revision: Union[str, None] = '0007'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table('import_jobs',
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('format', sa.String(length=16), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('actor_type', sa.String(length=16), nullable=False),
    sa.Column('actor_id', sa.Uuid(), nullable=True),
    sa.Column('actor_on_behalf_of', sa.Uuid(), nullable=True),
    sa.Column('scopes', sa.JSON().with_variant(postgresql.JSONB(), 'postgresql'), nullable=False),
    sa.Column('options', sa.JSON().with_variant(postgresql.JSONB(), 'postgresql'), nullable=False),
    sa.Column('rows_read', sa.Integer(), nullable=False),
    sa.Column('rows_processed', sa.Integer(), nullable=False),
    sa.Column('created', sa.Integer(), nullable=False),
    sa.Column('updated', sa.Integer(), nullable=False),
    sa.Column('unchanged', sa.Integer(), nullable=False),
    sa.Column('failed', sa.Integer(), nullable=False),
    sa.Column('cursor', sa.Integer(), nullable=False),
    sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('error', sa.String(length=500), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_import_jobs_tenant_id_tenants')),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_import_jobs'))
    )
    with op.batch_alter_table('import_jobs', schema=None) as batch_op:
        batch_op.create_index('ix_import_jobs_pending', ['created_at'], unique=False, postgresql_where=sa.text("state IN ('receiving', 'queued', 'running')"), sqlite_where=sa.text("state IN ('receiving', 'queued', 'running')"))

    op.create_table('import_rows',
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('job_id', sa.Uuid(), nullable=False),
    sa.Column('line', sa.Integer(), nullable=False),
    sa.Column('data', sa.JSON().with_variant(postgresql.JSONB(), 'postgresql'), nullable=True),
    sa.Column('problem', sa.JSON().with_variant(postgresql.JSONB(), 'postgresql'), nullable=True),
    sa.ForeignKeyConstraint(['tenant_id', 'job_id'], ['import_jobs.tenant_id', 'import_jobs.id'], name=op.f('fk_import_rows_tenant_id_job_id_import_jobs'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_import_rows_tenant_id_tenants')),
    sa.PrimaryKeyConstraint('tenant_id', 'job_id', 'line', name=op.f('pk_import_rows'))
    )
    with op.batch_alter_table('briefs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('key', sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_briefs_tenant_id_key'), ['tenant_id', 'key'])



def downgrade() -> None:
    with op.batch_alter_table('briefs', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_briefs_tenant_id_key'), type_='unique')
        batch_op.drop_column('key')

    op.drop_table('import_rows')
    with op.batch_alter_table('import_jobs', schema=None) as batch_op:
        batch_op.drop_index('ix_import_jobs_pending', postgresql_where=sa.text("state IN ('receiving', 'queued', 'running')"), sqlite_where=sa.text("state IN ('receiving', 'queued', 'running')"))

    op.drop_table('import_jobs')
