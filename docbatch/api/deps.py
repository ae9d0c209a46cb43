"""FastAPI dependencies: settings, store, blob storage, Temporal, and the caller's project."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, HTTPException, Query, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import CollectorRegistry

from docbatch.api.temporal_clients import TemporalClients
from docbatch.auth import Principal, authenticate
from docbatch.blobs import BlobStore
from docbatch.metrics import endpoint_registry
from docbatch.models import NUL_MESSAGE, contains_nul
from docbatch.settings import Settings
from docbatch.store import Store


@dataclass
class AppState:
    """What the app owns for its lifetime (built in the lifespan, closed after)."""

    settings: Settings
    store: Store
    blobs: BlobStore
    temporal: TemporalClients
    metrics: CollectorRegistry = field(default_factory=endpoint_registry)
    """What ``/metrics`` serves."""


async def reject_nul_characters(request: Request) -> None:
    """Refuse query, path and form values with NUL characters (422 naming the field).

    Request bodies are checked by their models; this covers what the route's parameters
    carry. Uploaded file contents are data, never checked.
    """
    values: list[tuple[str, str, object]] = [
        *(("query", k, v) for k, v in request.query_params.multi_items()),
        *(("path", k, v) for k, v in request.path_params.items()),
    ]
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
        form = await request.form()
        # Uploaded files: their names only (contents are data).
        values += [
            ("body", k, v if isinstance(v, str) else getattr(v, "filename", None))
            for k, v in form.multi_items()
        ]
    bad = [
        {"loc": [where, name], "msg": f"{name}: {NUL_MESSAGE}", "type": "value_error"}
        for where, name, value in values
        if contains_nul(value) or contains_nul(name)
    ]
    if bad:
        raise RequestValidationError(bad)


# The dependencies below are ``async def`` although they never await: FastAPI runs a
# plain ``def`` dependency in its thread pool, a thread hop per dependency per request.
async def get_state(request: Request) -> AppState:
    """The application's state."""
    state: AppState = request.app.state.docbatch
    return state


StateDep = Annotated[AppState, Depends(get_state)]


async def get_store(state: StateDep) -> Store:
    """The SQL store."""
    return state.store


async def get_settings(state: StateDep) -> Settings:
    """The settings the app was built with."""
    return state.settings


async def get_blobs(state: StateDep) -> BlobStore:
    """Blob storage for uploads and outputs."""
    return state.blobs


async def get_temporal(state: StateDep) -> TemporalClients:
    """Temporal clients per namespace."""
    return state.temporal


StoreDep = Annotated[Store, Depends(get_store)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
BlobsDep = Annotated[BlobStore, Depends(get_blobs)]
TemporalDep = Annotated[TemporalClients, Depends(get_temporal)]

_bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer <key>`")


async def get_principal(
    store: StoreDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    project_id: Annotated[str | None, Query(description="Must match the key's project")] = None,
    organization_id: Annotated[
        str | None, Query(description="Must match the key's organization")
    ] = None,
) -> Principal:
    """The project the API key grants; 401 without a valid key, 403 for another project."""
    if credentials is None or not credentials.credentials:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "missing API key: send Authorization: Bearer <key>",
            headers={"WWW-Authenticate": "Bearer"},
        )
    principal = await authenticate(store, credentials.credentials)
    if principal is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "invalid or revoked API key",
            headers={"WWW-Authenticate": "Bearer"},
        )
    if project_id is not None and project_id != principal.project_id:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "project_id does not match the API key")
    if organization_id is not None and organization_id != principal.organization_id:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "organization_id does not match the API key")
    return principal


PrincipalDep = Annotated[Principal, Depends(get_principal)]
