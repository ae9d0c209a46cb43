"""index of a job's items by end time (throughput over the last minute)

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_job_items_job_completed", "job_items", ["job_id", "completed_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_job_items_job_completed", table_name="job_items")
