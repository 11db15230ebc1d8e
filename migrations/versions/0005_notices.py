"""notices: urge notices (催办/督办) and their items, reminder dispatch claims, notifications,
the outbox, working-day overrides

Revision ID: 0005_notices
Revises: 0004_enterprises

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0005_notices'
down_revision = '0004_enterprises'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('outbox_messages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=10), nullable=False),
    sa.Column('recipient', sa.String(length=500), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('subject', sa.String(length=300), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=True),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('claimed_by', sa.String(length=120), nullable=True),
    sa.Column('claimed_at', sa.DateTime(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('sent_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_outbox_messages_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox_messages'))
    )
    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.create_index('ix_outbox_messages_state_next', ['state', 'next_attempt_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_outbox_messages_user_id'), ['user_id'], unique=False)

    op.create_table('urge_notices',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('series', sa.String(length=20), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('sequence', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=60), nullable=False),
    sa.Column('level', sa.String(length=10), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('response_due', sa.Date(), nullable=False),
    sa.Column('source', sa.String(length=10), nullable=False),
    sa.Column('issued_by_id', sa.Integer(), nullable=True),
    sa.Column('issued_at', sa.DateTime(), nullable=False),
    sa.Column('acknowledged_at', sa.DateTime(), nullable=True),
    sa.Column('acknowledged_by_id', sa.Integer(), nullable=True),
    sa.Column('response', sa.Text(), nullable=False),
    sa.Column('responded_at', sa.DateTime(), nullable=True),
    sa.Column('responded_by_id', sa.Integer(), nullable=True),
    sa.Column('answered_late', sa.Boolean(), nullable=True),
    sa.Column('version_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['acknowledged_by_id'], ['users.id'], name=op.f('fk_urge_notices_acknowledged_by_id_users')),
    sa.ForeignKeyConstraint(['issued_by_id'], ['users.id'], name=op.f('fk_urge_notices_issued_by_id_users')),
    sa.ForeignKeyConstraint(['responded_by_id'], ['users.id'], name=op.f('fk_urge_notices_responded_by_id_users')),
    sa.ForeignKeyConstraint(['unit_id'], ['units.id'], name=op.f('fk_urge_notices_unit_id_units')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_urge_notices')),
    sa.UniqueConstraint('number', name=op.f('uq_urge_notices_number')),
    sa.UniqueConstraint('series', 'year', 'sequence', name=op.f('uq_urge_notices_series_year_sequence'))
    )
    with op.batch_alter_table('urge_notices', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_urge_notices_issued_at'), ['issued_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_urge_notices_level'), ['level'], unique=False)
        batch_op.create_index(batch_op.f('ix_urge_notices_unit_id'), ['unit_id'], unique=False)

    op.create_table('workday_overrides',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('is_workday', sa.Boolean(), nullable=False),
    sa.Column('note', sa.String(length=200), nullable=False),
    sa.Column('updated_by_id', sa.Integer(), nullable=True),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['updated_by_id'], ['users.id'], name=op.f('fk_workday_overrides_updated_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_workday_overrides')),
    sa.UniqueConstraint('day', name=op.f('uq_workday_overrides_day'))
    )
    op.create_table('reminder_dispatches',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('item_type', sa.String(length=30), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('period', sa.String(length=40), nullable=False),
    sa.Column('outcome', sa.String(length=20), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('urge_notice_id', sa.Integer(), nullable=True),
    sa.Column('webhook_outbox_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['unit_id'], ['units.id'], name=op.f('fk_reminder_dispatches_unit_id_units')),
    sa.ForeignKeyConstraint(['urge_notice_id'], ['urge_notices.id'], name=op.f('fk_reminder_dispatches_urge_notice_id_urge_notices')),
    sa.ForeignKeyConstraint(['webhook_outbox_id'], ['outbox_messages.id'], name=op.f('fk_reminder_dispatches_webhook_outbox_id_outbox_messages')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reminder_dispatches')),
    sa.UniqueConstraint('item_type', 'item_id', 'kind', 'period', name=op.f('uq_reminder_dispatches_item_type_item_id_kind_period'))
    )
    with op.batch_alter_table('reminder_dispatches', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_reminder_dispatches_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_reminder_dispatches_unit_id'), ['unit_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_reminder_dispatches_urge_notice_id'), ['urge_notice_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_reminder_dispatches_webhook_outbox_id'), ['webhook_outbox_id'], unique=False)

    op.create_table('notifications',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('params', sa.JSON(), nullable=False),
    sa.Column('link', sa.String(length=300), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('read_at', sa.DateTime(), nullable=True),
    sa.Column('dispatch_id', sa.Integer(), nullable=True),
    sa.Column('urge_notice_id', sa.Integer(), nullable=True),
    sa.Column('digest_outbox_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['digest_outbox_id'], ['outbox_messages.id'], name=op.f('fk_notifications_digest_outbox_id_outbox_messages')),
    sa.ForeignKeyConstraint(['dispatch_id'], ['reminder_dispatches.id'], name=op.f('fk_notifications_dispatch_id_reminder_dispatches')),
    sa.ForeignKeyConstraint(['urge_notice_id'], ['urge_notices.id'], name=op.f('fk_notifications_urge_notice_id_urge_notices')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_notifications_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notifications'))
    )
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_notifications_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_notifications_digest_outbox_id'), ['digest_outbox_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_notifications_dispatch_id'), ['dispatch_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_notifications_urge_notice_id'), ['urge_notice_id'], unique=False)
        batch_op.create_index('ix_notifications_user_read', ['user_id', 'read_at'], unique=False)

    op.create_table('urge_notice_items',
    sa.Column('notice_id', sa.Integer(), nullable=False),
    sa.Column('milestone_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['milestone_id'], ['milestones.id'], name=op.f('fk_urge_notice_items_milestone_id_milestones'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['notice_id'], ['urge_notices.id'], name=op.f('fk_urge_notice_items_notice_id_urge_notices'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('notice_id', 'milestone_id', name=op.f('pk_urge_notice_items'))
    )


def downgrade():
    op.drop_table('urge_notice_items')
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_index('ix_notifications_user_read')
        batch_op.drop_index(batch_op.f('ix_notifications_urge_notice_id'))
        batch_op.drop_index(batch_op.f('ix_notifications_dispatch_id'))
        batch_op.drop_index(batch_op.f('ix_notifications_digest_outbox_id'))
        batch_op.drop_index(batch_op.f('ix_notifications_created_at'))

    op.drop_table('notifications')
    with op.batch_alter_table('reminder_dispatches', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_reminder_dispatches_webhook_outbox_id'))
        batch_op.drop_index(batch_op.f('ix_reminder_dispatches_urge_notice_id'))
        batch_op.drop_index(batch_op.f('ix_reminder_dispatches_unit_id'))
        batch_op.drop_index(batch_op.f('ix_reminder_dispatches_created_at'))

    op.drop_table('reminder_dispatches')
    op.drop_table('workday_overrides')
    with op.batch_alter_table('urge_notices', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_urge_notices_unit_id'))
        batch_op.drop_index(batch_op.f('ix_urge_notices_level'))
        batch_op.drop_index(batch_op.f('ix_urge_notices_issued_at'))

    op.drop_table('urge_notices')
    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outbox_messages_user_id'))
        batch_op.drop_index('ix_outbox_messages_state_next')

    op.drop_table('outbox_messages')
