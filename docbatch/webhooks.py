"""Webhooks: which endpoints a job notifies, target checks, signing and delivery.

Each request carries ``X-Docbatch-Event-Id`` (stable across retries, so receivers can
drop duplicates), ``X-Docbatch-Timestamp`` and ``X-Docbatch-Signature: sha256=<hex>``,
the HMAC-SHA256 of ``"<timestamp>.<body>"`` with the deployment's webhook secret. An
endpoint configured with its own ``webhook_signing_secret`` also gets the reference's
``LC-Signature: sha256=<hex>``, the HMAC-SHA256 of the raw body with that secret.

A beta job's endpoints come from its config (``parse.*``, ``extract.*``, ``classify.*``
events); a v2 batch's were copied into its ``batch_config_json`` at create time
(``batch.*`` events).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import os
import secrets
import socket
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx

from docbatch.errors import ConfigError
from docbatch.models import (
    AnyJobConfig,
    BatchParseJobRecordCreate,
    ExtractJob,
    JobType,
    load_job_config,
)
from docbatch.products.views import is_single
from docbatch.settings import Settings
from docbatch.store.tables import JobRow

EVENT_SUFFIXES = ("pending", "running", "success", "partial_success", "error", "cancelled")
_EVENT_NAMESPACE = uuid.UUID("0f4bd5a2-8a55-4c52-93a3-8a36f1c7a0d5")


@dataclass(frozen=True, slots=True)
class WebhookTarget:
    """One endpoint of a job: where, which events, extra headers, body format."""

    url: str
    events: tuple[str, ...] | None = None
    headers: dict[str, str] = field(default_factory=dict, repr=False)
    output_format: str = "string"
    signing_secret: str | None = field(default=None, repr=False)

    def as_json(self) -> dict[str, Any]:
        """The endpoint as stored with a v2 batch."""
        return {
            "webhook_url": self.url,
            "webhook_events": list(self.events) if self.events is not None else None,
            "webhook_headers": self.headers,
            "webhook_output_format": self.output_format,
            "webhook_signing_secret": self.signing_secret,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> WebhookTarget:
        """An endpoint from its stored form (``as_json``, or a request's configuration)."""
        events = data.get("webhook_events")
        return cls(
            url=str(data["webhook_url"]),
            events=tuple(events) if events else None,
            headers=dict(data.get("webhook_headers") or {}),
            output_format=data.get("webhook_output_format") or "string",
            signing_secret=data.get("webhook_signing_secret") or None,
        )

    def wants(self, event_type: str) -> bool:
        """Whether this endpoint subscribed to ``event_type`` (no filter: every event)."""
        return self.events is None or event_type in self.events


def event_type(job_type: JobType, suffix: str) -> str:
    """The reference's event name, e.g. ``parse.success``."""
    return f"{job_type.value}.{suffix}"


def event_id(job_id: str, suffix: str) -> str:
    """A stable id per job and event, identical on every delivery attempt."""
    return f"evt-{uuid.uuid5(_EVENT_NAMESPACE, f'{job_id}/{suffix}')}"


def targets_of(config: AnyJobConfig) -> list[WebhookTarget]:
    """Every webhook endpoint a job config names (configurations and the legacy URLs)."""
    found: list[WebhookTarget] = []
    parameters = None
    if isinstance(config, BatchParseJobRecordCreate | ExtractJob):
        parameters = config.parameters
    if parameters is not None:
        for hook in parameters.webhook_configurations or []:
            if hook.webhook_url:
                found.append(
                    WebhookTarget(
                        url=hook.webhook_url,
                        events=tuple(hook.webhook_events) if hook.webhook_events else None,
                        headers=dict(hook.webhook_headers or {}),
                        output_format=hook.webhook_output_format or "string",
                        signing_secret=hook.webhook_signing_secret or None,
                    )
                )
        if parameters.webhook_url:
            found.append(WebhookTarget(url=parameters.webhook_url))
    legacy = config.webhook_url if isinstance(config, BatchParseJobRecordCreate) else None
    if legacy and all(target.url != legacy for target in found):
        found.append(WebhookTarget(url=legacy))
    return found


BATCH_EVENT_SUFFIX = {"partial_success": "success"}
"""A v2 batch that ended with some files failed still sends ``batch.success``: it mapped
every file to a job (the reference's meaning); per-file outcomes are in its results."""


def job_targets(job: JobRow) -> list[WebhookTarget]:
    """Every endpoint a job notifies: a v2 batch's copied ones, else its config's."""
    if job.batch_config_json:
        stored = json.loads(job.batch_config_json).get("webhooks") or []
        return [WebhookTarget.from_json(hook) for hook in stored]
    return targets_of(load_job_config(job.config_json))


def job_event_type(job: JobRow, suffix: str) -> str:
    """The event a job sends at ``suffix``: ``batch.*`` for a v2 batch, else by job type
    (``parse.success``…, also for a v2 product job of one file)."""
    if job.batch_config_json and not is_single(job):
        return f"batch.{BATCH_EVENT_SUFFIX.get(suffix, suffix)}"
    return event_type(JobType(job.job_type), suffix)


def check_target(url: str, *, allow_private: bool, resolve: bool = True) -> None:
    """Refuse anything but http(s) to public addresses (``ConfigError`` naming the URL).

    Literal addresses are always checked; host names are resolved when ``resolve`` (at
    delivery time, so a name that later points inside the network is caught too).
    """
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise ConfigError(f"webhook URL must be http(s) with a host: {url}", field="webhook_url")
    if allow_private:
        return
    host = parsed.hostname
    addresses: list[str] = []
    try:
        addresses = [str(ipaddress.ip_address(host))]
    except ValueError:
        if host.lower() in ("localhost", "localhost.localdomain") or host.endswith(".localhost"):
            addresses = ["127.0.0.1"]
        elif resolve:
            try:
                infos = socket.getaddrinfo(host, parsed.port or 443, proto=socket.IPPROTO_TCP)
            except OSError:
                return  # unresolvable now: delivery checks again
            addresses = [str(info[4][0]) for info in infos]
    for address in addresses:
        ip = ipaddress.ip_address(address)
        if not ip.is_global:
            raise ConfigError(
                f"webhook URL {url} points at a non-public address ({ip}); set "
                "DOCBATCH_WEBHOOK_ALLOW_PRIVATE_TARGETS=true to allow it",
                field="webhook_url",
            )


def validate_targets(config: AnyJobConfig, settings: Settings) -> None:
    """Check every webhook URL of a config before a job is created."""
    for target in targets_of(config):
        check_target(
            target.url, allow_private=settings.webhook_allow_private_targets, resolve=False
        )


def webhook_secret(settings: Settings) -> bytes:
    """The signing secret: the setting, or one generated once and kept in the data dir."""
    if settings.webhook_secret is not None:
        return settings.webhook_secret.get_secret_value().encode()
    path = settings.data_dir / "webhook-secret"
    if not path.exists():
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        _write_private(path, secrets.token_hex(32))
    return path.read_text().strip().encode()


def _write_private(path: Path, text: str) -> None:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return  # another process wrote it first; use theirs
    with os.fdopen(fd, "w") as handle:
        handle.write(text)


def sign(secret: bytes, timestamp: str, body: bytes) -> str:
    """``sha256=<hex>`` HMAC of ``"<timestamp>.<body>"``."""
    digest = hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def lc_signature(signing_secret: str, body: bytes) -> str:
    """The reference's ``LC-Signature``: ``sha256=<hex>`` HMAC-SHA256 of the raw body."""
    digest = hmac.new(signing_secret.encode(), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


class WebhookDeliveryError(RuntimeError):
    """The endpoint did not accept the event (retried with backoff)."""


async def deliver(
    client: httpx.AsyncClient,
    target: WebhookTarget,
    *,
    event_id: str,
    event_type: str,
    payload: dict[str, Any],
    secret: bytes,
) -> int:
    """POST one event to one endpoint; raise ``WebhookDeliveryError`` unless it says 2xx."""
    if target.output_format == "json":
        body = json.dumps(payload, separators=(",", ":")).encode()
        content_type = "application/json"
    else:
        body = json.dumps(json.dumps(payload, separators=(",", ":"))).encode()
        content_type = "application/json"
    timestamp = str(int(time.time()))
    headers = {
        **target.headers,
        "Content-Type": content_type,
        "User-Agent": "docbatch-webhooks/1",
        "X-Docbatch-Event": event_type,
        "X-Docbatch-Event-Id": event_id,
        "X-Docbatch-Timestamp": timestamp,
        "X-Docbatch-Signature": sign(secret, timestamp, body),
    }
    if target.signing_secret:
        headers["LC-Signature"] = lc_signature(target.signing_secret, body)
    try:
        response = await client.post(target.url, content=body, headers=headers)
    except httpx.HTTPError as exc:
        raise WebhookDeliveryError(f"{type(exc).__name__} posting to the webhook") from None
    if not 200 <= response.status_code < 300:
        raise WebhookDeliveryError(f"webhook answered HTTP {response.status_code}")
    return response.status_code
