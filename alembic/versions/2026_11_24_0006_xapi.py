"""xAPI: an LRS is a webhook of kind xapi, and its deliveries carry their statements.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0006'
down_revision: Union[str, None] = '0005'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:

    with op.batch_alter_table('webhook_deliveries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('payload', sa.JSON().with_variant(postgresql.JSONB(), 'postgresql'), nullable=True))

    with op.batch_alter_table('webhooks', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', sa.String(length=16), server_default='standard', nullable=False))
        batch_op.add_column(sa.Column('basic_auth', sa.String(length=600), nullable=True))
        batch_op.add_column(sa.Column('xapi_home_page', sa.String(length=2000), nullable=True))
        batch_op.add_column(sa.Column('xapi_use_mbox', sa.Boolean(), server_default=sa.false(), nullable=False))




def downgrade() -> None:

    with op.batch_alter_table('webhooks', schema=None) as batch_op:
        batch_op.drop_column('xapi_use_mbox')
        batch_op.drop_column('xapi_home_page')
        batch_op.drop_column('basic_auth')
        batch_op.drop_column('kind')

    with op.batch_alter_table('webhook_deliveries', schema=None) as batch_op:
        batch_op.drop_column('payload')


