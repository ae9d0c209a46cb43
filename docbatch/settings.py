"""All configuration of docbatch, read once from the environment (and fail fast)."""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from docbatch import defaults

DEFAULT_TASK_QUEUE = "docbatch"


class Settings(BaseSettings):
    """docbatch settings: ``DOCBATCH_*`` variables plus Temporal's own ``TEMPORAL_*``."""

    model_config = SettingsConfigDict(env_prefix="DOCBATCH_", extra="ignore", frozen=True)

    temporal_address: str = Field(
        default="localhost:7233",
        validation_alias=AliasChoices("TEMPORAL_ADDRESS", "temporal_address"),
    )
    temporal_namespace: str = Field(
        default="default",
        validation_alias=AliasChoices("TEMPORAL_NAMESPACE", "temporal_namespace"),
    )
    task_queue: str = DEFAULT_TASK_QUEUE

    data_dir: Path = Path(".docbatch")
    database_url: str | None = None

    default_page_size: int = Field(default=defaults.PAGE_SIZE, gt=0, le=5000)
    max_concurrent_children: int = Field(default=defaults.MAX_CONCURRENT_CHILDREN, gt=0, le=1000)
    """Most child workflows in flight per job (Temporal caps pending at 2,000); the job's
    window starts at ``initial_concurrent_children`` and adapts to how fast the workers
    take items up."""
    initial_concurrent_children: int = Field(
        default=defaults.INITIAL_CONCURRENT_CHILDREN, gt=0, le=1000
    )
    """Children in flight when a job starts (at most ``max_concurrent_children``): set it
    to ``max_concurrent_children`` for a job that starts at full width, e.g. on a large
    cluster of workers."""
    max_file_size_bytes: int = Field(default=100 * 1024 * 1024, gt=0)
    max_upload_bytes: int = Field(default=1024 * 1024 * 1024, gt=0)
    """Uploads larger than this are refused (HTTP 413) before they are stored."""
    engine_processes: int = Field(default_factory=lambda: os.cpu_count() or 1, gt=0)
    """Size of the worker's process pool that runs the CPU-bound engines."""
    max_concurrent_activities: int = Field(default=50, gt=0)
    max_concurrent_workflow_tasks: int = Field(default=100, ge=2)
    """Workflow tasks a worker runs at once; an item's quick attempt runs inside one."""
    default_job_timeout_seconds: float = Field(default=defaults.JOB_TIMEOUT_SECONDS, gt=0)

    llm_base_url: str | None = None
    """An OpenAI-compatible endpoint for MULTIMODAL classify and extract jobs."""
    llm_api_key: SecretStr | None = None
    llm_model: str = "gpt-4o-mini"

    output_s3_prefix: str | None = Field(default=None, pattern=r"^s3://[^/]+(/.*)?$")
    """Write outputs to ``s3://bucket/prefix`` instead of the data directory."""
    s3_endpoint_url: str | None = None
    """A non-AWS S3 endpoint (MinIO, a test server); credentials come from AWS_* env."""

    webhook_secret: SecretStr | None = None
    """Deployment secret that signs webhook requests (HMAC-SHA256); generated if unset."""
    webhook_allow_private_targets: bool = False
    """Allow webhook URLs on loopback/private addresses (tests and closed networks)."""
    webhook_retry_hours: float = Field(default=defaults.WEBHOOK_RETRY_HOURS, gt=0)
    webhook_initial_retry_seconds: float = Field(
        default=defaults.WEBHOOK_INITIAL_RETRY_SECONDS, gt=0
    )
    webhook_timeout_seconds: float = Field(default=10.0, gt=0)

    project_id: str = "proj-default"
    """Project of jobs created from the CLI, and of the development API key."""
    organization_id: str = "org-default"

    api_host: str = "127.0.0.1"
    api_port: int = Field(default=8000, gt=0, lt=65536)
    api_key: SecretStr | None = None
    """A development API key for the embedded stack (created if missing, then printed)."""

    log_level: str = "INFO"
    log_format: str = Field(default="auto", pattern="^(auto|console|json)$")

    metrics_port: int | None = Field(default=None, gt=0, lt=65536)
    """Serve Prometheus ``/metrics`` on this port (worker); None serves no endpoint."""
    metrics_host: str = "127.0.0.1"
    """Address the worker's metrics endpoint binds (``0.0.0.0`` in a container)."""

    dev_server_port: int = Field(default=7233, gt=0, lt=65536)
    dev_ui_port: int = Field(default=8233, gt=0, lt=65536)

    @field_validator("data_dir")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    @cached_property
    def effective_database_url(self) -> str:
        """The store URL: ``DOCBATCH_DATABASE_URL`` or a SQLite file in the data dir."""
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{self.data_dir / 'docbatch.db'}"

    @property
    def llm_options(self) -> dict[str, str] | None:
        """The LLM endpoint as engines receive it, or None when none is configured."""
        if not self.llm_base_url:
            return None
        return {
            "base_url": self.llm_base_url,
            "api_key": self.llm_api_key.get_secret_value() if self.llm_api_key else "",
            "model": self.llm_model,
        }

    @property
    def blob_dir(self) -> Path:
        """Where the local blob storage keeps outputs and uploads."""
        return self.data_dir / "blobs"

    @property
    def temporal_db_file(self) -> Path:
        """The embedded Temporal dev server's persistent database."""
        return self.data_dir / "temporal.db"
