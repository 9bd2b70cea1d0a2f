"""Assignment list indexes that match the list filters: (tenant, reviewer, state, id) and (tenant, assignee, state, id).

A reviewer's inbox (`?reviewer_id=…&state=submitted`) and a person's own work in one state were served by
(tenant, reviewer, id) and (tenant, assignee, id), filtering state row by row; these read exactly the page.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01
"""
from typing import Sequence, Union

from alembic import op

revision: str = '0009'
down_revision: Union[str, None] = '0008'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('assignments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_assignments_tenant_id_reviewer_id_state_id'), ['tenant_id', 'reviewer_id', 'state', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_assignments_tenant_id_assignee_id_state_id'), ['tenant_id', 'assignee_id', 'state', 'id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('assignments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_assignments_tenant_id_assignee_id_state_id'))
        batch_op.drop_index(batch_op.f('ix_assignments_tenant_id_reviewer_id_state_id'))
