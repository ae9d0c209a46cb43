"""The v2 API's aggregates in the store: saved configurations, and batches and product
jobs read as the v2 API shows them (a v2 batch is a job row; a product job is one of
its items)."""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import and_, delete, func, or_, select
from sqlalchemy.exc import IntegrityError

from docbatch.errors import ConfigError, NotFoundError
from docbatch.ids import new_id
from docbatch.models import ItemStatus, JobStatus
from docbatch.store.db import Database
from docbatch.store.tables import (
    ConfigurationRow,
    DirectoryRow,
    IdempotencyKeyRow,
    JobItemRow,
    JobRow,
    ProcessingResultRow,
    WebhookConfigRow,
    WebhookEventRow,
)
from docbatch.store.types import utcnow

CONFIGURATION_PREFIX = "cfg"
WEBHOOK_CONFIG_PREFIX = "whc"
BATCH_PREFIX = "bat"
JOB_PREFIXES = ("bat", "bjb")


def encode_token(*values: Any) -> str:
    """An opaque page token for a keyset position."""
    raw = json.dumps([v.isoformat() if isinstance(v, datetime) else v for v in values])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_token(token: str, arity: int) -> list[Any]:
    """The keyset position of a page token; ``ConfigError`` (``page_token``) if malformed."""
    try:
        padded = token + "=" * (-len(token) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        values = None
    if not isinstance(values, list) or len(values) != arity:
        raise ConfigError("page_token is not one this API issued", field="page_token")
    return values


def _when(value: Any) -> datetime:
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        raise ConfigError("page_token is not one this API issued", field="page_token") from None


@dataclass(frozen=True, slots=True)
class BatchFilter:
    """What ``GET /api/v2/batches`` narrows to."""

    statuses: Sequence[JobStatus] = ()
    paused: bool | None = None
    source_directory_id: str | None = None
    created_on_or_after: datetime | None = None
    created_on_or_before: datetime | None = None


@dataclass(frozen=True, slots=True)
class ProductJobFilter:
    """What ``GET /api/v2/parse`` (and extract, classify) narrows to."""

    job_type: str
    statuses: Sequence[ItemStatus] = ()
    created_on_or_after: datetime | None = None
    created_on_or_before: datetime | None = None
    keys: Sequence[tuple[str, int]] = ()
    """Only these product jobs (job key, ordinal)."""


class ProductStore:
    """Configurations, and the v2 reads of jobs and items (on the store's database:
    ``ProductStore(store.database)``)."""

    def __init__(self, database: Database) -> None:
        self._database = database

    # --------------------------------------------------------- configurations

    async def save_configuration(
        self, *, project_id: str, name: str, product_type: str, parameters_json: str
    ) -> ConfigurationRow:
        """Create a configuration, or update the one with this name and product type."""
        for attempt in range(2):
            try:
                async with self._database.writing() as session:
                    row = await session.scalar(
                        select(ConfigurationRow).where(
                            ConfigurationRow.project_id == project_id,
                            ConfigurationRow.name == name,
                            ConfigurationRow.product_type == product_type,
                        )
                    )
                    now = utcnow()
                    if row is None:
                        row = ConfigurationRow(
                            id=new_id(CONFIGURATION_PREFIX),
                            project_id=project_id,
                            name=name,
                            product_type=product_type,
                            parameters_json=parameters_json,
                            version=now.isoformat(),
                            created_at=now,
                            updated_at=now,
                        )
                        session.add(row)
                    else:
                        row.parameters_json = parameters_json
                        row.version = _next_version(row.version, now)
                        row.updated_at = now
                    return row
            except IntegrityError:
                if attempt:  # a concurrent save of the same name won twice: give up
                    raise
        raise AssertionError("unreachable")

    async def get_configuration(self, config_id: str, *, project_id: str) -> ConfigurationRow:
        """A configuration of the project; ``NotFoundError`` otherwise."""
        async with self._database.reading() as session:
            row = await session.get(ConfigurationRow, config_id)
        if row is None or row.project_id != project_id:
            raise NotFoundError(f"configuration {config_id} not found")
        return row

    async def update_configuration(
        self,
        config_id: str,
        *,
        project_id: str,
        name: str | None,
        product_type: str | None,
        parameters_json: str | None,
    ) -> ConfigurationRow:
        """Change a configuration's name and/or parameters; a new version either way."""
        try:
            async with self._database.writing() as session:
                row = await session.get(ConfigurationRow, config_id)
                if row is None or row.project_id != project_id:
                    raise NotFoundError(f"configuration {config_id} not found")
                now = utcnow()
                if name is not None:
                    row.name = name
                if product_type is not None:
                    row.product_type = product_type
                if parameters_json is not None:
                    row.parameters_json = parameters_json
                row.version = _next_version(row.version, now)
                row.updated_at = now
                return row
        except IntegrityError:
            raise ConfigError(
                f"a {product_type or 'configuration'} named {name!r} exists already",
                field="name",
            ) from None

    async def list_configurations(
        self,
        *,
        project_id: str,
        name: str | None = None,
        product_types: Sequence[str] = (),
        page_size: int,
        page_token: str | None = None,
    ) -> tuple[list[ConfigurationRow], str | None]:
        """A page of the project's configurations, newest first, and the next token."""
        conditions: list[Any] = [ConfigurationRow.project_id == project_id]
        if name is not None:
            conditions.append(ConfigurationRow.name == name)
        if product_types:
            conditions.append(ConfigurationRow.product_type.in_(list(product_types)))
        return await _newest_first(
            self._database, ConfigurationRow, conditions, page_size=page_size, page_token=page_token
        )

    async def delete_configuration(self, config_id: str, *, project_id: str) -> None:
        """Remove a configuration (batches created from it keep running as they were)."""
        async with self._database.writing() as session:
            row = await session.get(ConfigurationRow, config_id)
            if row is None or row.project_id != project_id:
                raise NotFoundError(f"configuration {config_id} not found")
            await session.delete(row)

    # ------------------------------------------------------- webhook configs

    async def add_webhook_config(self, row: WebhookConfigRow) -> WebhookConfigRow:
        """Store a new webhook configuration."""
        async with self._database.writing() as session:
            session.add(row)
        return row

    async def get_webhook_config(self, config_id: str, *, project_id: str) -> WebhookConfigRow:
        """A webhook configuration of the project; ``NotFoundError`` otherwise."""
        async with self._database.reading() as session:
            row = await session.get(WebhookConfigRow, config_id)
        if row is None or row.project_id != project_id:
            raise NotFoundError(f"webhook configuration {config_id} not found")
        return row

    async def get_webhook_configs(
        self, config_ids: Sequence[str], *, project_id: str
    ) -> list[WebhookConfigRow]:
        """The project's webhook configurations among ``config_ids`` (unknown ones left out)."""
        if not config_ids:
            return []
        async with self._database.reading() as session:
            rows = await session.scalars(
                select(WebhookConfigRow).where(
                    WebhookConfigRow.id.in_(list(config_ids)),
                    WebhookConfigRow.project_id == project_id,
                )
            )
            return list(rows)

    async def update_webhook_config(
        self, config_id: str, *, project_id: str, changes: dict[str, Any]
    ) -> WebhookConfigRow:
        """Set the given columns of a webhook configuration."""
        async with self._database.writing() as session:
            row = await session.get(WebhookConfigRow, config_id)
            if row is None or row.project_id != project_id:
                raise NotFoundError(f"webhook configuration {config_id} not found")
            for name, value in changes.items():
                setattr(row, name, value)
            row.updated_at = utcnow()
            return row

    async def list_webhook_configs(
        self, *, project_id: str, page_size: int, page_token: str | None = None
    ) -> tuple[list[WebhookConfigRow], str | None]:
        """A page of the project's webhook configurations, newest first."""
        conditions: list[Any] = [WebhookConfigRow.project_id == project_id]
        return await _newest_first(
            self._database, WebhookConfigRow, conditions, page_size=page_size, page_token=page_token
        )

    async def count_webhook_configs(self, *, project_id: str) -> int:
        """How many webhook configurations the project has."""
        async with self._database.reading() as session:
            count = await session.scalar(
                select(func.count())
                .select_from(WebhookConfigRow)
                .where(WebhookConfigRow.project_id == project_id)
            )
        return int(count or 0)

    async def delete_webhook_config(self, config_id: str, *, project_id: str) -> None:
        """Remove a webhook configuration (batches keep the endpoints they copied)."""
        async with self._database.writing() as session:
            row = await session.get(WebhookConfigRow, config_id)
            if row is None or row.project_id != project_id:
                raise NotFoundError(f"webhook configuration {config_id} not found")
            await session.delete(row)

    # ------------------------------------------------------------ batches (v2)

    async def list_batches(
        self, *, project_id: str, where: BatchFilter, page_size: int, page_token: str | None
    ) -> tuple[list[JobRow], str | None]:
        """A page of the project's directory jobs, newest first, and the next token."""
        conditions: list[Any] = [JobRow.project_id == project_id, JobRow.directory_id.is_not(None)]
        if where.statuses:
            conditions.append(JobRow.status.in_([s.value for s in where.statuses]))
        if where.paused is not None:
            conditions.append(JobRow.paused.is_(where.paused))
        if where.source_directory_id is not None:
            conditions.append(JobRow.directory_id == where.source_directory_id)
        if where.created_on_or_after is not None:
            conditions.append(JobRow.created_at >= where.created_on_or_after)
        if where.created_on_or_before is not None:
            conditions.append(JobRow.created_at <= where.created_on_or_before)
        return await _newest_first(
            self._database, JobRow, conditions, page_size=page_size, page_token=page_token
        )

    async def items_of(self, job_id: str) -> list[JobItemRow]:
        """Every item a job has listed so far, in order."""
        async with self._database.reading() as session:
            return list(
                await session.scalars(
                    select(JobItemRow)
                    .where(JobItemRow.job_id == job_id)
                    .order_by(JobItemRow.ordinal)
                )
            )

    # ------------------------------------------------------------ product jobs

    async def find_product_job(
        self, key: str, ordinal: int, *, project_id: str, job_type: str
    ) -> tuple[JobRow, JobItemRow]:
        """The job and item a product job id names; ``NotFoundError`` otherwise."""
        async with self._database.reading() as session:
            job = await session.scalar(
                select(JobRow).where(_job_key_matches(key), JobRow.project_id == project_id)
            )
            item = None
            if job is not None and job.job_type == job_type:
                item = await session.scalar(
                    select(JobItemRow).where(
                        JobItemRow.job_id == job.id, JobItemRow.ordinal == ordinal
                    )
                )
        if job is None or item is None:
            raise NotFoundError("job not found")
        return job, item

    async def list_product_jobs(
        self, *, project_id: str, where: ProductJobFilter, page_size: int, page_token: str | None
    ) -> tuple[list[tuple[JobRow, JobItemRow]], str | None]:
        """A page of the project's items of one job type, newest job first."""
        conditions: list[Any] = [
            JobRow.project_id == project_id,
            JobRow.job_type == where.job_type,
        ]
        if where.statuses:
            conditions.append(JobItemRow.status.in_([s.value for s in where.statuses]))
        if where.created_on_or_after is not None:
            conditions.append(JobRow.created_at >= where.created_on_or_after)
        if where.created_on_or_before is not None:
            conditions.append(JobRow.created_at <= where.created_on_or_before)
        if where.keys:
            conditions.append(
                or_(*(and_(_job_key_matches(k), JobItemRow.ordinal == n) for k, n in where.keys))
            )
        if page_token:
            created, job_id, ordinal = decode_token(page_token, 3)
            when = _when(created)
            conditions.append(
                or_(
                    JobRow.created_at < when,
                    and_(JobRow.created_at == when, JobRow.id < str(job_id)),
                    and_(JobRow.id == str(job_id), JobItemRow.ordinal > int(ordinal)),
                )
            )
        async with self._database.reading() as session:
            rows = list(
                (
                    await session.execute(
                        select(JobRow, JobItemRow)
                        .join(JobItemRow, JobItemRow.job_id == JobRow.id)
                        .where(*conditions)
                        .order_by(JobRow.created_at.desc(), JobRow.id.desc(), JobItemRow.ordinal)
                        .limit(page_size + 1)
                    )
                ).tuples()
            )
        more = len(rows) > page_size
        rows = rows[:page_size]
        token = None
        if more:
            job, item = rows[-1]
            token = encode_token(job.created_at, job.id, item.ordinal)
        return rows, token

    async def delete_job(self, job_id: str) -> None:
        """Remove an ended job with its items, events and its results: those it made or
        was served from, unless another job's item holds them too."""
        async with self._database.writing() as session:
            shared = select(JobItemRow.result_id).where(
                JobItemRow.job_id != job_id, JobItemRow.result_id.is_not(None)
            )
            served = select(JobItemRow.result_id).where(
                JobItemRow.job_id == job_id, JobItemRow.result_id.is_not(None)
            )
            await session.execute(
                delete(ProcessingResultRow).where(
                    or_(
                        ProcessingResultRow.job_id == job_id,
                        ProcessingResultRow.result_id.in_(served),
                    ),
                    ProcessingResultRow.result_id.not_in(shared),
                )
            )
            await session.execute(delete(WebhookEventRow).where(WebhookEventRow.job_id == job_id))
            await session.execute(
                delete(IdempotencyKeyRow).where(IdempotencyKeyRow.job_id == job_id)
            )
            await session.execute(delete(JobItemRow).where(JobItemRow.job_id == job_id))
            await session.execute(delete(JobRow).where(JobRow.id == job_id))

    # --------------------------------------------------------------- uploads

    async def uploads_directory(self, *, project_id: str) -> DirectoryRow:
        """The project's ``ephemeral`` directory that files uploaded to
        ``/api/v2/parse/upload`` are kept in (one per project, made on first use)."""
        directory_id = uploads_directory_id(project_id)
        for attempt in range(2):
            now = utcnow()
            async with self._database.writing() as session:
                row = await session.get(DirectoryRow, directory_id)
                if row is not None and row.deleted_at is not None:
                    row.deleted_at = None  # deleted by its user: in use again
                    row.updated_at = now
            if row is not None:
                return row
            try:
                async with self._database.writing() as session:
                    session.add(
                        DirectoryRow(
                            id=directory_id,
                            project_id=project_id,
                            name=UPLOADS_DIRECTORY_NAME,
                            description="Files uploaded to POST /api/v2/parse/upload",
                            type="ephemeral",
                            created_at=now,
                            updated_at=now,
                        )
                    )
            except IntegrityError:
                if attempt:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover


UPLOADS_DIRECTORY_NAME = "parse uploads"


def uploads_directory_id(project_id: str) -> str:
    """A stable id per project, so concurrent first uploads make one directory."""
    digest = hashlib.sha256(project_id.encode()).hexdigest()[:32]
    return f"dir-uploads-{digest}"


Row = TypeVar("Row", ConfigurationRow, WebhookConfigRow, JobRow)


async def _newest_first(
    database: Database,
    model: type[Row],
    conditions: list[Any],
    *,
    page_size: int,
    page_token: str | None,
) -> tuple[list[Row], str | None]:
    """A keyset page of rows, newest first by (``created_at``, ``id``), and the next token."""
    if page_token:
        created, last_id = decode_token(page_token, 2)
        when = _when(created)
        conditions = [
            *conditions,
            or_(model.created_at < when, and_(model.created_at == when, model.id < str(last_id))),
        ]
    async with database.reading() as session:
        rows = list(
            await session.scalars(
                select(model)
                .where(*conditions)
                .order_by(model.created_at.desc(), model.id.desc())
                .limit(page_size + 1)
            )
        )
    more = len(rows) > page_size
    rows = rows[:page_size]
    token = encode_token(rows[-1].created_at, rows[-1].id) if more else None
    return rows, token


def _job_key_matches(key: str) -> Any:
    """Job ids whose UUID starts with ``key``: a range scan of the primary key per prefix."""
    return or_(
        *(
            and_(JobRow.id >= f"{prefix}-{key}-", JobRow.id < f"{prefix}-{key}-~")
            for prefix in JOB_PREFIXES
        )
    )


def _next_version(previous: str, now: datetime) -> str:
    """A version after ``previous``: now, or a microsecond after it on a fast clock."""
    version = now.isoformat()
    if version <= previous:
        with contextlib.suppress(ValueError):
            version = (datetime.fromisoformat(previous) + timedelta(microseconds=1)).isoformat()
    return version
