"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-24
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql


revision: str = '0001'
down_revision: Union[str, None] = None
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    
    op.create_table('tenants',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('slug', sa.String(length=63), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tenants')),
    sa.UniqueConstraint('slug', name=op.f('uq_tenants_slug'))
    )
    op.create_table('api_keys',
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('scopes', sa.JSON().with_variant(postgresql.JSONB(), 'postgresql'), nullable=False),
    sa.Column('key_hash', sa.String(length=64), nullable=False),
    sa.Column('hint', sa.String(length=32), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_api_keys_tenant_id_tenants')),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_api_keys'))
    )
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_keys_key_hash'), ['key_hash'], unique=True)

    op.create_table('events',
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('type', sa.String(length=64), nullable=False),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor_type', sa.String(length=16), nullable=False),
    sa.Column('actor_id', sa.Uuid(), nullable=True),
    sa.Column('subject_type', sa.String(length=32), nullable=False),
    sa.Column('subject_id', sa.Uuid(), nullable=False),
    sa.Column('data', sa.JSON().with_variant(postgresql.JSONB(), 'postgresql'), nullable=False),
    sa.Column('details', sa.JSON().with_variant(postgresql.JSONB(), 'postgresql'), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_events_tenant_id_tenants')),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_events'))
    )
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_events_tenant_id_subject_id_id'), ['tenant_id', 'subject_id', 'id'], unique=False)

    op.create_table('people',
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('external_id', sa.String(length=255), nullable=False),
    sa.Column('display_name', sa.String(length=200), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=True),
    sa.Column('manager_id', sa.Uuid(), nullable=True),
    sa.Column('team', sa.String(length=200), nullable=True),
    sa.Column('title', sa.String(length=200), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id', 'manager_id'], ['people.tenant_id', 'people.id'], name=op.f('fk_people_tenant_id_manager_id_people')),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_people_tenant_id_tenants')),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_people')),
    sa.UniqueConstraint('tenant_id', 'external_id', name=op.f('uq_people_tenant_id_external_id'))
    )
    with op.batch_alter_table('people', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_people_tenant_id_manager_id'), ['tenant_id', 'manager_id'], unique=False)

    op.create_table('skills',
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('framework', sa.String(length=32), nullable=True),
    sa.Column('framework_ref', sa.String(length=500), nullable=True),
    sa.Column('levels', sa.JSON().with_variant(postgresql.JSONB(), 'postgresql'), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_skills_tenant_id_tenants')),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_skills')),
    sa.UniqueConstraint('tenant_id', 'key', name=op.f('uq_skills_tenant_id_key'))
    )
    op.create_table('briefs',
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('skill_id', sa.Uuid(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('published_revision', sa.Integer(), nullable=True),
    sa.Column('content', sa.JSON().with_variant(postgresql.JSONB(), 'postgresql'), nullable=False),
    sa.Column('published', sa.JSON().with_variant(postgresql.JSONB(), 'postgresql'), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id', 'skill_id'], ['skills.tenant_id', 'skills.id'], name=op.f('fk_briefs_tenant_id_skill_id_skills')),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_briefs_tenant_id_tenants')),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_briefs'))
    )
    with op.batch_alter_table('briefs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_briefs_tenant_id_skill_id_id'), ['tenant_id', 'skill_id', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_briefs_tenant_id_status_id'), ['tenant_id', 'status', 'id'], unique=False)

    op.create_table('assignments',
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('brief_id', sa.Uuid(), nullable=False),
    sa.Column('brief_version', sa.Integer(), nullable=False),
    sa.Column('brief', sa.JSON().with_variant(postgresql.JSONB(), 'postgresql'), nullable=False),
    sa.Column('skill_id', sa.Uuid(), nullable=False),
    sa.Column('assignee_id', sa.Uuid(), nullable=False),
    sa.Column('reviewer_id', sa.Uuid(), nullable=False),
    sa.Column('offered_by_type', sa.String(length=16), nullable=False),
    sa.Column('offered_by_id', sa.Uuid(), nullable=True),
    sa.Column('state', sa.String(length=24), nullable=False),
    sa.Column('offer_expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('context_note', sa.Text(), nullable=True),
    sa.Column('external_ref', sa.String(length=255), nullable=True),
    sa.Column('attempt', sa.Integer(), nullable=False),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('timeout_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('review_due_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('outcome', sa.String(length=16), nullable=True),
    sa.Column('score', sa.Float(), nullable=True),
    sa.Column('late', sa.Boolean(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id', 'assignee_id'], ['people.tenant_id', 'people.id'], name=op.f('fk_assignments_tenant_id_assignee_id_people')),
    sa.ForeignKeyConstraint(['tenant_id', 'brief_id'], ['briefs.tenant_id', 'briefs.id'], name=op.f('fk_assignments_tenant_id_brief_id_briefs')),
    sa.ForeignKeyConstraint(['tenant_id', 'reviewer_id'], ['people.tenant_id', 'people.id'], name=op.f('fk_assignments_tenant_id_reviewer_id_people')),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_assignments_tenant_id_tenants')),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_assignments')),
    sa.UniqueConstraint('tenant_id', 'external_ref', name=op.f('uq_assignments_tenant_id_external_ref'))
    )
    with op.batch_alter_table('assignments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_assignments_tenant_id_assignee_id_id'), ['tenant_id', 'assignee_id', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_assignments_tenant_id_brief_id_id'), ['tenant_id', 'brief_id', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_assignments_tenant_id_due_at'), ['tenant_id', 'due_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_assignments_tenant_id_reviewer_id_id'), ['tenant_id', 'reviewer_id', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_assignments_tenant_id_skill_id_id'), ['tenant_id', 'skill_id', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_assignments_tenant_id_state_id'), ['tenant_id', 'state', 'id'], unique=False)

    op.create_table('submissions',
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('assignment_id', sa.Uuid(), nullable=False),
    sa.Column('attempt', sa.Integer(), nullable=False),
    sa.Column('body', sa.Text(), nullable=True),
    sa.Column('links', sa.JSON().with_variant(postgresql.JSONB(), 'postgresql'), nullable=False),
    sa.Column('attachments', sa.JSON().with_variant(postgresql.JSONB(), 'postgresql'), nullable=False),
    sa.Column('time_spent', sa.BigInteger(), nullable=True),
    sa.Column('submitted_by_type', sa.String(length=16), nullable=False),
    sa.Column('submitted_by_id', sa.Uuid(), nullable=True),
    sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('late', sa.Boolean(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('reclaimed_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['tenant_id', 'assignment_id'], ['assignments.tenant_id', 'assignments.id'], name=op.f('fk_submissions_tenant_id_assignment_id_assignments')),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_submissions_tenant_id_tenants')),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_submissions'))
    )
    with op.batch_alter_table('submissions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_submissions_tenant_id_assignment_id_id'), ['tenant_id', 'assignment_id', 'id'], unique=False)

    op.create_table('reviews',
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('assignment_id', sa.Uuid(), nullable=False),
    sa.Column('submission_id', sa.Uuid(), nullable=False),
    sa.Column('attempt', sa.Integer(), nullable=False),
    sa.Column('reviewer_id', sa.Uuid(), nullable=False),
    sa.Column('reviewed_by_type', sa.String(length=16), nullable=False),
    sa.Column('reviewed_by_id', sa.Uuid(), nullable=True),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('scores', sa.JSON().with_variant(postgresql.JSONB(), 'postgresql'), nullable=False),
    sa.Column('score', sa.Float(), nullable=False),
    sa.Column('feedback', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id', 'assignment_id'], ['assignments.tenant_id', 'assignments.id'], name=op.f('fk_reviews_tenant_id_assignment_id_assignments')),
    sa.ForeignKeyConstraint(['tenant_id', 'submission_id'], ['submissions.tenant_id', 'submissions.id'], name=op.f('fk_reviews_tenant_id_submission_id_submissions')),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_reviews_tenant_id_tenants')),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_reviews'))
    )
    with op.batch_alter_table('reviews', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_reviews_tenant_id_assignment_id_id'), ['tenant_id', 'assignment_id', 'id'], unique=False)

    op.create_table('evidence',
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('person_id', sa.Uuid(), nullable=False),
    sa.Column('skill_id', sa.Uuid(), nullable=False),
    sa.Column('level', sa.Integer(), nullable=False),
    sa.Column('assignment_id', sa.Uuid(), nullable=False),
    sa.Column('review_id', sa.Uuid(), nullable=False),
    sa.Column('score', sa.Float(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id', 'assignment_id'], ['assignments.tenant_id', 'assignments.id'], name=op.f('fk_evidence_tenant_id_assignment_id_assignments')),
    sa.ForeignKeyConstraint(['tenant_id', 'person_id'], ['people.tenant_id', 'people.id'], name=op.f('fk_evidence_tenant_id_person_id_people')),
    sa.ForeignKeyConstraint(['tenant_id', 'review_id'], ['reviews.tenant_id', 'reviews.id'], name=op.f('fk_evidence_tenant_id_review_id_reviews')),
    sa.ForeignKeyConstraint(['tenant_id', 'skill_id'], ['skills.tenant_id', 'skills.id'], name=op.f('fk_evidence_tenant_id_skill_id_skills')),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_evidence_tenant_id_tenants')),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_evidence'))
    )
    with op.batch_alter_table('evidence', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_evidence_tenant_id_person_id_skill_id'), ['tenant_id', 'person_id', 'skill_id'], unique=False)

    


def downgrade() -> None:
    
    with op.batch_alter_table('evidence', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_evidence_tenant_id_person_id_skill_id'))

    op.drop_table('evidence')
    with op.batch_alter_table('reviews', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_reviews_tenant_id_assignment_id_id'))

    op.drop_table('reviews')
    with op.batch_alter_table('submissions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_submissions_tenant_id_assignment_id_id'))

    op.drop_table('submissions')
    with op.batch_alter_table('assignments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_assignments_tenant_id_state_id'))
        batch_op.drop_index(batch_op.f('ix_assignments_tenant_id_skill_id_id'))
        batch_op.drop_index(batch_op.f('ix_assignments_tenant_id_reviewer_id_id'))
        batch_op.drop_index(batch_op.f('ix_assignments_tenant_id_due_at'))
        batch_op.drop_index(batch_op.f('ix_assignments_tenant_id_brief_id_id'))
        batch_op.drop_index(batch_op.f('ix_assignments_tenant_id_assignee_id_id'))

    op.drop_table('assignments')
    with op.batch_alter_table('briefs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_briefs_tenant_id_status_id'))
        batch_op.drop_index(batch_op.f('ix_briefs_tenant_id_skill_id_id'))

    op.drop_table('briefs')
    op.drop_table('skills')
    with op.batch_alter_table('people', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_people_tenant_id_manager_id'))

    op.drop_table('people')
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_events_tenant_id_subject_id_id'))

    op.drop_table('events')
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_api_keys_key_hash'))

    op.drop_table('api_keys')
    op.drop_table('tenants')
    
