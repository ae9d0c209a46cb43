"""Temporal plumbing shared by the worker, the starter and tests: client, search attributes."""

from __future__ import annotations

from typing import Any

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import (
    AddSearchAttributesRequest,
    ListSearchAttributesRequest,
)
from temporalio.client import Client
from temporalio.common import Priority, SearchAttributeKey
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.runtime import Runtime
from temporalio.service import RetryConfig

from docbatch.settings import Settings

JOB_ID = SearchAttributeKey.for_keyword("DocbatchJobId")
JOB_TYPE = SearchAttributeKey.for_keyword("DocbatchJobType")
JOB_STATUS = SearchAttributeKey.for_keyword("DocbatchStatus")
DIRECTORY_ID = SearchAttributeKey.for_keyword("DocbatchDirectoryId")
PROGRESS = SearchAttributeKey.for_int("DocbatchProgress")
"""Percentage of a job's items that have ended, kept current on the parent workflow."""

SEARCH_ATTRIBUTES: tuple[SearchAttributeKey[Any], ...] = (
    JOB_ID,
    JOB_TYPE,
    JOB_STATUS,
    DIRECTORY_ID,
    PROGRESS,
)
"""Every custom search attribute docbatch sets, so users can filter in the Web UI."""


PRIORITY_KEYS = {"critical": 1, "high": 2, "medium": 3, "low": 4}
"""The reference's ``priority`` as Temporal priority keys (1 runs first; unset is 3)."""


def temporal_priority(priority: str | None) -> Priority:
    """Temporal's task priority for a job's ``priority`` (the default when unset)."""
    if priority is None:
        return Priority.default
    return Priority(priority_key=PRIORITY_KEYS[priority])


def cli_type(key: SearchAttributeKey[Any]) -> str:
    """The attribute's type as the ``temporal`` CLI names it (``Keyword``, ``Int``)."""
    return {"KEYWORD": "Keyword", "INT": "Int"}[key.indexed_value_type.name]


async def connect(
    settings: Settings,
    *,
    namespace: str | None = None,
    retry_config: RetryConfig | None = None,
    runtime: Runtime | None = None,
) -> Client:
    """A Temporal client with the pydantic data converter, from settings.

    ``runtime`` carries the SDK's telemetry (see ``docbatch.metrics.TemporalSdkMetrics``).
    """
    return await Client.connect(
        settings.temporal_address,
        namespace=namespace or settings.temporal_namespace,
        data_converter=pydantic_data_converter,
        retry_config=retry_config,
        runtime=runtime,
    )


def with_namespace(client: Client, namespace: str) -> Client:
    """A client for another namespace sharing the same connection."""
    if namespace == client.namespace:
        return client
    return Client(client.service_client, namespace=namespace, data_converter=client.data_converter)


async def ensure_search_attributes(client: Client) -> list[str]:
    """Register docbatch's search attributes the server lacks; returns those added."""
    existing = await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=client.namespace)
    )
    known = set(existing.custom_attributes) | set(existing.system_attributes)
    missing = [key.name for key in SEARCH_ATTRIBUTES if key.name not in known]
    if missing:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(
                namespace=client.namespace,
                search_attributes={
                    key.name: IndexedValueType.ValueType(int(key.indexed_value_type))
                    for key in SEARCH_ATTRIBUTES
                    if key.name in missing
                },
            )
        )
    return missing
