"""enterprises: register, history, claim conflicts, staged imports, monthly dispatch

Revision ID: 0004_enterprises
Revises: 0003_reporting

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0004_enterprises'
down_revision = '0003_reporting'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('enterprises',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('credit_code', sa.String(length=18), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=20), nullable=False),
    sa.Column('tech_in_library_on', sa.Date(), nullable=True),
    sa.Column('tech_removed_on', sa.Date(), nullable=True),
    sa.Column('high_tech_cert_no', sa.String(length=40), nullable=True),
    sa.Column('high_tech_cert_on', sa.Date(), nullable=True),
    sa.Column('high_tech_first_on', sa.Date(), nullable=True),
    sa.Column('high_tech_expires_on', sa.Date(), nullable=True),
    sa.Column('re_review_due_on', sa.Date(), nullable=True),
    sa.Column('specialised_sme', sa.Boolean(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('closed_on', sa.Date(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['unit_id'], ['units.id'], name=op.f('fk_enterprises_unit_id_units')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_enterprises')),
    sa.UniqueConstraint('credit_code', name=op.f('uq_enterprises_credit_code'))
    )
    with op.batch_alter_table('enterprises', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_enterprises_high_tech_expires_on'), ['high_tech_expires_on'], unique=False)
        batch_op.create_index(batch_op.f('ix_enterprises_name'), ['name'], unique=False)
        batch_op.create_index(batch_op.f('ix_enterprises_unit_id'), ['unit_id'], unique=False)

    op.create_table('claim_conflicts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('enterprise_id', sa.Integer(), nullable=False),
    sa.Column('holder_unit_id', sa.Integer(), nullable=False),
    sa.Column('claimant_unit_id', sa.Integer(), nullable=False),
    sa.Column('claimed_by_id', sa.Integer(), nullable=True),
    sa.Column('claimed_at', sa.DateTime(), nullable=False),
    sa.Column('claim_data', sa.JSON(), nullable=True),
    sa.Column('reason', sa.String(length=500), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('decided_at', sa.DateTime(), nullable=True),
    sa.Column('decision_note', sa.String(length=500), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['claimant_unit_id'], ['units.id'], name=op.f('fk_claim_conflicts_claimant_unit_id_units')),
    sa.ForeignKeyConstraint(['claimed_by_id'], ['users.id'], name=op.f('fk_claim_conflicts_claimed_by_id_users')),
    sa.ForeignKeyConstraint(['decided_by_id'], ['users.id'], name=op.f('fk_claim_conflicts_decided_by_id_users')),
    sa.ForeignKeyConstraint(['enterprise_id'], ['enterprises.id'], name=op.f('fk_claim_conflicts_enterprise_id_enterprises')),
    sa.ForeignKeyConstraint(['holder_unit_id'], ['units.id'], name=op.f('fk_claim_conflicts_holder_unit_id_units')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_claim_conflicts'))
    )
    with op.batch_alter_table('claim_conflicts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_claim_conflicts_claimant_unit_id'), ['claimant_unit_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_claim_conflicts_enterprise_id'), ['enterprise_id'], unique=False)
        batch_op.create_index('ix_claim_conflicts_state', ['state'], unique=False)

    op.create_table('dispatch_periods',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('plan_id', sa.Integer(), nullable=False),
    sa.Column('month', sa.Date(), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=False),
    sa.Column('opened_at', sa.DateTime(), nullable=False),
    sa.Column('opened_by_id', sa.Integer(), nullable=True),
    sa.Column('closed_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['opened_by_id'], ['users.id'], name=op.f('fk_dispatch_periods_opened_by_id_users')),
    sa.ForeignKeyConstraint(['plan_id'], ['plans.id'], name=op.f('fk_dispatch_periods_plan_id_plans')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dispatch_periods')),
    sa.UniqueConstraint('plan_id', 'month', name=op.f('uq_dispatch_periods_plan_id_month'))
    )
    with op.batch_alter_table('dispatch_periods', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_dispatch_periods_plan_id'), ['plan_id'], unique=False)

    op.create_table('enterprise_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('enterprise_id', sa.Integer(), nullable=False),
    sa.Column('occurred_at', sa.DateTime(), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=True),
    sa.Column('changes', sa.JSON(), nullable=True),
    sa.Column('note', sa.String(length=500), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_enterprise_events_actor_id_users')),
    sa.ForeignKeyConstraint(['enterprise_id'], ['enterprises.id'], name=op.f('fk_enterprise_events_enterprise_id_enterprises'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['unit_id'], ['units.id'], name=op.f('fk_enterprise_events_unit_id_units')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_enterprise_events'))
    )
    with op.batch_alter_table('enterprise_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_enterprise_events_enterprise_id'), ['enterprise_id'], unique=False)

    op.create_table('enterprise_imports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token', sa.String(length=43), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('counts', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('confirmed_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['unit_id'], ['units.id'], name=op.f('fk_enterprise_imports_unit_id_units')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_enterprise_imports_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_enterprise_imports')),
    sa.UniqueConstraint('token', name=op.f('uq_enterprise_imports_token'))
    )
    with op.batch_alter_table('enterprise_imports', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_enterprise_imports_user_id'), ['user_id'], unique=False)

    op.create_table('dispatch_confirmations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('period_id', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('figures', sa.JSON(), nullable=True),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('confirmed_by_id', sa.Integer(), nullable=True),
    sa.Column('confirmed_at', sa.DateTime(), nullable=True),
    sa.Column('late', sa.Boolean(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['confirmed_by_id'], ['users.id'], name=op.f('fk_dispatch_confirmations_confirmed_by_id_users')),
    sa.ForeignKeyConstraint(['period_id'], ['dispatch_periods.id'], name=op.f('fk_dispatch_confirmations_period_id_dispatch_periods'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['unit_id'], ['units.id'], name=op.f('fk_dispatch_confirmations_unit_id_units')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dispatch_confirmations')),
    sa.UniqueConstraint('period_id', 'unit_id', name=op.f('uq_dispatch_confirmations_period_id_unit_id'))
    )
    with op.batch_alter_table('dispatch_confirmations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_dispatch_confirmations_period_id'), ['period_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_dispatch_confirmations_unit_id'), ['unit_id'], unique=False)

    op.create_table('enterprise_import_rows',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('import_id', sa.Integer(), nullable=False),
    sa.Column('row_number', sa.Integer(), nullable=False),
    sa.Column('credit_code', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('outcome', sa.String(length=20), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('data', sa.JSON(), nullable=True),
    sa.ForeignKeyConstraint(['import_id'], ['enterprise_imports.id'], name=op.f('fk_enterprise_import_rows_import_id_enterprise_imports'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_enterprise_import_rows'))
    )
    with op.batch_alter_table('enterprise_import_rows', schema=None) as batch_op:
        batch_op.create_index('ix_enterprise_import_rows_batch_outcome', ['import_id', 'outcome'], unique=False)
        batch_op.create_index(batch_op.f('ix_enterprise_import_rows_import_id'), ['import_id'], unique=False)



def downgrade():
    op.drop_table('enterprise_import_rows')
    op.drop_table('dispatch_confirmations')
    op.drop_table('enterprise_imports')
    op.drop_table('enterprise_events')
    op.drop_table('dispatch_periods')
    op.drop_table('claim_conflicts')
    op.drop_table('enterprises')
