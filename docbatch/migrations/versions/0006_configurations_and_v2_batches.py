"""saved product and webhook configurations; a job keeps the v2 batch config it came from

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "configurations",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("project_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("product_type", sa.String(length=32), nullable=False),
        sa.Column("parameters_json", sa.Text(), nullable=False),
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("project_id", "name", "product_type", name="uq_configuration_name"),
    )
    with op.batch_alter_table("configurations", schema=None) as batch_op:
        batch_op.create_index(
            "ix_configurations_project_created", ["project_id", "created_at"], unique=False
        )
    op.create_table(
        "webhook_configs",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("project_id", sa.String(length=64), nullable=False),
        sa.Column("webhook_url", sa.Text(), nullable=False),
        sa.Column("events_json", sa.Text(), nullable=True),
        sa.Column("headers_json", sa.Text(), nullable=True),
        sa.Column("output_format", sa.String(length=16), nullable=True),
        sa.Column("signing_secret", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("webhook_configs", schema=None) as batch_op:
        batch_op.create_index(
            "ix_webhook_configs_project_created", ["project_id", "created_at"], unique=False
        )
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("batch_config_json", sa.Text(), nullable=True))
    with op.batch_alter_table("directories", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("connector_subscription_id", sa.String(length=128), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("directories", schema=None) as batch_op:
        batch_op.drop_column("connector_subscription_id")
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_column("batch_config_json")
    op.drop_table("webhook_configs")
    op.drop_table("configurations")
