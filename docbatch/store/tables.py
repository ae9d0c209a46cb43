"""SQLAlchemy table definitions: the system of record users read."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on every backend (SQLite drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        # A naive value means UTC on every backend: asyncpg would take it as local time.
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value  # type: ignore[no-any-return]


# SQLite only auto-increments an INTEGER PRIMARY KEY; Postgres wants a BIGINT identity.
SeqInt = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    """Declarative base of every docbatch table."""


class DirectoryRow(Base):
    """A named set of files; local folders register as directories with a source path."""

    __tablename__ = "directories"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(64), index=True)
    name: Mapped[str] = mapped_column(String(512))
    description: Mapped[str | None] = mapped_column(Text)
    source_path: Mapped[str | None] = mapped_column(Text)
    type: Mapped[str] = mapped_column(String(16), default="user", server_default="user")
    system_metadata_json: Mapped[str | None] = mapped_column(Text)
    connector_subscription_id: Mapped[str | None] = mapped_column(String(128))
    """The client's data-connector subscription (``llama-cloud`` ≥ 2.14); kept, not used."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (UniqueConstraint("project_id", "source_path", name="uq_directory_source"),)


class FileRow(Base):
    """A file of a directory. ``seq`` orders files for keyset pagination."""

    __tablename__ = "files"

    seq: Mapped[int] = mapped_column(SeqInt, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(64), unique=True)
    directory_id: Mapped[str] = mapped_column(ForeignKey("directories.id", ondelete="CASCADE"))
    project_id: Mapped[str] = mapped_column(String(64))
    path: Mapped[str] = mapped_column(Text)
    """Path relative to the directory, unique in it (the API's ``unique_id``)."""
    display_name: Mapped[str | None] = mapped_column(Text)
    external_file_id: Mapped[str | None] = mapped_column(Text)
    metadata_json: Mapped[str | None] = mapped_column(Text)
    size: Mapped[int] = mapped_column(BigInteger)
    content_hash: Mapped[str] = mapped_column(String(64))
    mime_type: Mapped[str | None] = mapped_column(String(255))
    storage_location: Mapped[str] = mapped_column(Text)
    mtime_ns: Mapped[int | None] = mapped_column(BigInteger)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (
        UniqueConstraint("directory_id", "path", name="uq_file_path"),
        Index("ix_files_directory_seq", "directory_id", "seq"),
    )


class JobRow(Base):
    """A batch job; item counters are kept exact by guarded status transitions."""

    __tablename__ = "jobs"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(64), index=True)
    job_type: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), index=True)
    directory_id: Mapped[str | None] = mapped_column(String(64), index=True)
    config_json: Mapped[str] = mapped_column(Text)
    parameters_hash: Mapped[str] = mapped_column(String(64))
    invalidate_cache: Mapped[bool] = mapped_column(Boolean, default=False)
    page_size: Mapped[int] = mapped_column(Integer)
    continue_as_new_threshold: Mapped[int] = mapped_column(Integer)
    max_file_size_bytes: Mapped[int] = mapped_column(BigInteger)
    max_file_seq: Mapped[int | None] = mapped_column(BigInteger)
    """Files registered after the job started are not part of it."""
    total_items: Mapped[int] = mapped_column(Integer, default=0)
    completed_items: Mapped[int] = mapped_column(Integer, default=0)
    failed_items: Mapped[int] = mapped_column(Integer, default=0)
    skipped_items: Mapped[int] = mapped_column(Integer, default=0)
    cancelled_items: Mapped[int] = mapped_column(Integer, default=0)
    error_message: Mapped[str | None] = mapped_column(Text)
    cancel_reason: Mapped[str | None] = mapped_column(Text)
    paused: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    """Dispatching is paused (``pause`` signal or Update); meaningless once terminal."""
    workflow_id: Mapped[str] = mapped_column(String(128))
    temporal_namespace: Mapped[str] = mapped_column(String(255))
    retry_of: Mapped[str | None] = mapped_column(String(64))
    """The job whose failed items this job retries."""
    plan_json: Mapped[str | None] = mapped_column(Text)
    """The job's ``docbatch.core.JobPlan``, decided at create time (null for jobs created
    before plans were stored: theirs is built from the config when read)."""
    batch_config_json: Mapped[str | None] = mapped_column(Text)
    """A v2 batch's ``config`` as submitted (``{"job": {"type", "configuration_id"}}``)
    and what of its configuration the engines cannot honour; null for a beta job."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ConfigurationRow(Base):
    """A saved product configuration (``/api/v1/beta/configurations``).

    One row per name, product type and project: saving the same name again updates it
    and moves ``version`` on.
    """

    __tablename__ = "configurations"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(255))
    product_type: Mapped[str] = mapped_column(String(32))
    parameters_json: Mapped[str] = mapped_column(Text)
    version: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (
        UniqueConstraint("project_id", "name", "product_type", name="uq_configuration_name"),
        Index("ix_configurations_project_created", "project_id", "created_at"),
    )


class WebhookConfigRow(Base):
    """A saved webhook endpoint (``/api/v1/beta/webhook-configs``) batches can name.

    ``signing_secret`` is write-only in the API (``has_secret``); header values are
    never shown either.
    """

    __tablename__ = "webhook_configs"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(64))
    webhook_url: Mapped[str] = mapped_column(Text)
    events_json: Mapped[str | None] = mapped_column(Text)
    headers_json: Mapped[str | None] = mapped_column(Text)
    output_format: Mapped[str | None] = mapped_column(String(16))
    signing_secret: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (Index("ix_webhook_configs_project_created", "project_id", "created_at"),)


class JobItemRow(Base):
    """One file of one job. ``ordinal`` orders the job's items for paging."""

    __tablename__ = "job_items"

    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True)
    item_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    ordinal: Mapped[int] = mapped_column(BigInteger)
    item_name: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    skip_reason: Mapped[str | None] = mapped_column(String(32))
    error_message: Mapped[str | None] = mapped_column(Text)
    result_id: Mapped[str | None] = mapped_column(String(64))
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (
        UniqueConstraint("job_id", "ordinal", name="uq_job_item_ordinal"),
        Index("ix_job_items_job_status", "job_id", "status"),
        Index("ix_job_items_item", "item_id"),
        Index("ix_job_items_job_completed", "job_id", "completed_at"),
    )


class ProcessingResultRow(Base):
    """The output of processing one item once; ``result_id`` is deterministic per job item."""

    __tablename__ = "processing_results"

    result_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    item_id: Mapped[str] = mapped_column(String(64), index=True)
    job_id: Mapped[str] = mapped_column(String(64), index=True)
    job_type: Mapped[str] = mapped_column(String(16))
    parameters_hash: Mapped[str] = mapped_column(String(64))
    content_hash: Mapped[str] = mapped_column(String(64))
    output_location: Mapped[str] = mapped_column(Text)
    output_metadata_json: Mapped[str | None] = mapped_column(Text)
    processed_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (Index("ix_results_dedup", "job_type", "parameters_hash", "content_hash"),)


class ApiKeyRow(Base):
    """An API key, stored as a SHA-256 hash; it grants access to one project."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    """The first characters of the key, to recognise it in listings."""
    name: Mapped[str | None] = mapped_column(String(255))
    project_id: Mapped[str] = mapped_column(String(64), index=True)
    organization_id: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class IdempotencyKeyRow(Base):
    """A create request's ``Idempotency-Key``: the same key and body return the same job."""

    __tablename__ = "idempotency_keys"

    project_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    job_id: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class WebhookEventRow(Base):
    """A job event to deliver to webhooks; its id lets receivers drop duplicates."""

    __tablename__ = "webhook_events"

    event_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    job_id: Mapped[str] = mapped_column(String(64), index=True)
    event_type: Mapped[str] = mapped_column(String(64))
    payload_json: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    delivered_targets: Mapped[int] = mapped_column(Integer, default=0)
