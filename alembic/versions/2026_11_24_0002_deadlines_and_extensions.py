"""Deadlines that enforce themselves: reminder flags, the sweeper's claim index, extensions.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op


revision: str = '0002'
down_revision: Union[str, None] = '0001'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:

    op.create_table('extensions',
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('assignment_id', sa.Uuid(), nullable=False),
    sa.Column('attempt', sa.Integer(), nullable=False),
    sa.Column('previous_due_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('reopened', sa.Boolean(), nullable=False),
    sa.Column('extended_by_type', sa.String(length=16), nullable=False),
    sa.Column('extended_by_id', sa.Uuid(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id', 'assignment_id'], ['assignments.tenant_id', 'assignments.id'], name=op.f('fk_extensions_tenant_id_assignment_id_assignments')),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_extensions_tenant_id_tenants')),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_extensions'))
    )
    with op.batch_alter_table('extensions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_extensions_tenant_id_assignment_id_id'), ['tenant_id', 'assignment_id', 'id'], unique=False)

    with op.batch_alter_table('assignments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('offer_expiring_notified', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('due_soon_notified', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('review_overdue_notified', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('next_deadline_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index('ix_assignments_next_deadline_at', ['next_deadline_at'], unique=False, postgresql_where=sa.text('next_deadline_at IS NOT NULL'), sqlite_where=sa.text('next_deadline_at IS NOT NULL'))

    # Existing open assignments are due for a look at once; the sweeper computes their real next deadline.
    op.execute(
        "UPDATE assignments SET next_deadline_at = updated_at "
        "WHERE state IN ('offered', 'accepted', 'revision_requested', 'submitted')"
    )




def downgrade() -> None:

    with op.batch_alter_table('assignments', schema=None) as batch_op:
        batch_op.drop_index('ix_assignments_next_deadline_at', postgresql_where=sa.text('next_deadline_at IS NOT NULL'), sqlite_where=sa.text('next_deadline_at IS NOT NULL'))
        batch_op.drop_column('next_deadline_at')
        batch_op.drop_column('review_overdue_notified')
        batch_op.drop_column('due_soon_notified')
        batch_op.drop_column('offer_expiring_notified')

    with op.batch_alter_table('extensions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_extensions_tenant_id_assignment_id_id'))

    op.drop_table('extensions')

