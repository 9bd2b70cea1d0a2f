"""The event feed: a gap-free, commit-ordered seq per tenant, handed out by a per-tenant counter.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op


revision: str = '0004'
down_revision: Union[str, None] = '0003'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:

    op.create_table('event_counters',
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('last_seq', sa.BigInteger(), nullable=False),
    sa.Column('webhooks_version', sa.Integer(), server_default='0', nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_event_counters_tenant_id_tenants')),
    sa.PrimaryKeyConstraint('tenant_id', name=op.f('pk_event_counters'))
    )
    # Existing events are numbered per tenant in id (time) order; counters start after them.
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('seq', sa.BigInteger(), nullable=True))
    op.execute(
        "UPDATE events SET seq = (SELECT count(*) FROM events AS earlier "
        "WHERE earlier.tenant_id = events.tenant_id AND earlier.id <= events.id)"
    )
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.alter_column('seq', existing_type=sa.BigInteger(), nullable=False)
        batch_op.create_index(batch_op.f('ix_events_tenant_id_seq'), ['tenant_id', 'seq'], unique=True)
    op.execute(
        "INSERT INTO event_counters (tenant_id, last_seq, webhooks_version) "
        "SELECT tenants.id, (SELECT count(*) FROM events WHERE events.tenant_id = tenants.id), 0 FROM tenants"
    )




def downgrade() -> None:

    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_events_tenant_id_seq'))
        batch_op.drop_column('seq')

    op.drop_table('event_counters')

