"""Feed seqs handed out after commit: events get `pos` (order of storing) and a nullable `seq`.

Writers of events held the tenant's counter row from their first event to COMMIT, so one tenant's writes
went one at a time, fsync included. On PostgreSQL events are now stored with `pos` from the sequence
events_pos_seq and no seq; a sequencer gives seqs to committed events, in `pos` order, before the feed is
read. SQLite has one writer at a time, so its writers still number events as they store them (pos = seq).

Deliveries are ordered per subject by `event_pos`, which every event has from the start.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = '0010'
down_revision: Union[str, None] = '0009'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

_PENDING_ORDER = dict(postgresql_where=sa.text('status = \'pending\''), sqlite_where=sa.text('status = \'pending\''))
_UNSEQUENCED = dict(postgresql_where=sa.text('seq IS NULL'), sqlite_where=sa.text('seq IS NULL'))


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == 'postgresql'
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('pos', sa.BigInteger(), nullable=True))
    op.execute('UPDATE events SET pos = seq')  # a tenant's existing events keep their order
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.alter_column('pos', existing_type=sa.BigInteger(), nullable=False)
        batch_op.alter_column('seq', existing_type=sa.BigInteger(), nullable=True)
        batch_op.create_index('ix_events_unsequenced', ['tenant_id', 'pos'], unique=False, **_UNSEQUENCED)
    if postgres:
        op.execute('CREATE SEQUENCE events_pos_seq AS bigint')
        op.execute("SELECT setval('events_pos_seq', coalesce((SELECT max(pos) FROM events), 0) + 1, false)")

    with op.batch_alter_table('webhook_deliveries', schema=None) as batch_op:
        batch_op.drop_index('ix_webhook_deliveries_order', **_PENDING_ORDER)
        batch_op.alter_column('event_seq', new_column_name='event_pos', existing_type=sa.BigInteger(), existing_nullable=False)
    with op.batch_alter_table('webhook_deliveries', schema=None) as batch_op:
        batch_op.create_index('ix_webhook_deliveries_order', ['tenant_id', 'webhook_id', 'subject_id', 'event_pos'], unique=False, **_PENDING_ORDER)


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == 'postgresql'
    # Events still waiting for the sequencer get their seqs now, in the order the sequencer would give them.
    op.execute(
        'UPDATE events SET seq = (SELECT coalesce(max(s.seq), 0) FROM events AS s WHERE s.tenant_id = events.tenant_id) '
        '+ (SELECT count(*) FROM events AS w WHERE w.tenant_id = events.tenant_id AND w.seq IS NULL AND w.pos <= events.pos) '
        'WHERE seq IS NULL'
    )
    op.execute('UPDATE event_counters SET last_seq = coalesce((SELECT max(seq) FROM events WHERE events.tenant_id = event_counters.tenant_id), 0)')
    with op.batch_alter_table('webhook_deliveries', schema=None) as batch_op:
        batch_op.drop_index('ix_webhook_deliveries_order', **_PENDING_ORDER)
        batch_op.alter_column('event_pos', new_column_name='event_seq', existing_type=sa.BigInteger(), existing_nullable=False)
    op.execute(
        'UPDATE webhook_deliveries SET event_seq = (SELECT seq FROM events '
        'WHERE events.tenant_id = webhook_deliveries.tenant_id AND events.id = webhook_deliveries.event_id)'
    )
    with op.batch_alter_table('webhook_deliveries', schema=None) as batch_op:
        batch_op.create_index('ix_webhook_deliveries_order', ['tenant_id', 'webhook_id', 'subject_id', 'event_seq'], unique=False, **_PENDING_ORDER)

    if postgres:
        op.execute('DROP SEQUENCE events_pos_seq')
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_index('ix_events_unsequenced', **_UNSEQUENCED)
        batch_op.alter_column('seq', existing_type=sa.BigInteger(), nullable=False)
        batch_op.drop_column('pos')
