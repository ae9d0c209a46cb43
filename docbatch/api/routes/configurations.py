"""The v2 API's saved configurations: product configurations (``/api/v1/beta/configurations``)
and webhook configurations (``/api/v1/beta/webhook-configs``, ``/api/v2/webhook-configs``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response

from docbatch.api.deps import (
    PrincipalDep,
    SettingsDep,
    reject_nul_characters,
)
from docbatch.api.routes.v2_params import (
    OrganizationId,
    PageSize,
    PageToken,
    ProductsDep,
    ProjectId,
    compact_json,
)
from docbatch.ids import new_id
from docbatch.products import service as products
from docbatch.products.parameters import ProductType, dump_parameters
from docbatch.products.views import (
    ConfigurationCreate,
    ConfigurationResponse,
    ConfigurationUpdate,
    CursorPage,
    WebhookConfigCreate,
    WebhookConfigPage,
    WebhookConfigResponse,
    WebhookConfigUpdate,
)
from docbatch.store import utcnow
from docbatch.store.products import (
    WEBHOOK_CONFIG_PREFIX,
)
from docbatch.store.tables import WebhookConfigRow
from docbatch.webhooks import check_target

router = APIRouter(dependencies=[Depends(reject_nul_characters)])


# ------------------------------------------------------------ configurations


@router.post(
    "/api/v1/beta/configurations",
    response_model=ConfigurationResponse,
    tags=["configurations"],
    summary="Create Configuration",
)
async def create_configuration(
    body: ConfigurationCreate,
    principal: PrincipalDep,
    store: ProductsDep,
    project_id: ProjectId = None,
    organization_id: OrganizationId = None,
) -> ConfigurationResponse:
    """Save a product configuration; the same name and product type updates it."""
    row = await store.save_configuration(
        project_id=principal.project_id,
        name=body.name,
        product_type=body.parameters.product_type,
        parameters_json=compact_json(dump_parameters(body.parameters)),
    )
    return products.configuration_response(row)


@router.get(
    "/api/v1/beta/configurations",
    response_model=CursorPage[ConfigurationResponse],
    tags=["configurations"],
    summary="List Configurations",
)
async def list_configurations(
    principal: PrincipalDep,
    store: ProductsDep,
    name: Annotated[str | None, Query(max_length=255)] = None,
    product_type: Annotated[list[ProductType] | None, Query()] = None,
    latest_only: bool = False,
    page_size: PageSize = 50,
    page_token: PageToken = None,
    project_id: ProjectId = None,
    organization_id: OrganizationId = None,
) -> CursorPage[ConfigurationResponse]:
    """The project's configurations, newest first (one version is kept per name)."""
    rows, token = await store.list_configurations(
        project_id=principal.project_id,
        name=name,
        product_types=[p.value for p in product_type or []],
        page_size=page_size,
        page_token=page_token,
    )
    return CursorPage[ConfigurationResponse](
        items=[products.configuration_response(r) for r in rows], next_page_token=token
    )


@router.get(
    "/api/v1/beta/configurations/{config_id}",
    response_model=ConfigurationResponse,
    tags=["configurations"],
    summary="Get Configuration",
)
async def get_configuration(
    config_id: str,
    principal: PrincipalDep,
    store: ProductsDep,
    project_id: ProjectId = None,
    organization_id: OrganizationId = None,
) -> ConfigurationResponse:
    """One configuration of the project."""
    row = await store.get_configuration(config_id, project_id=principal.project_id)
    return products.configuration_response(row)


@router.put(
    "/api/v1/beta/configurations/{config_id}",
    response_model=ConfigurationResponse,
    tags=["configurations"],
    summary="Update Configuration",
)
async def update_configuration(
    config_id: str,
    body: ConfigurationUpdate,
    principal: PrincipalDep,
    store: ProductsDep,
    project_id: ProjectId = None,
    organization_id: OrganizationId = None,
) -> ConfigurationResponse:
    """Rename a configuration or replace its parameters (a new ``version``)."""
    row = await store.update_configuration(
        config_id,
        project_id=principal.project_id,
        name=body.name,
        product_type=body.parameters.product_type if body.parameters else None,
        parameters_json=compact_json(dump_parameters(body.parameters)) if body.parameters else None,
    )
    return products.configuration_response(row)


@router.delete(
    "/api/v1/beta/configurations/{config_id}",
    status_code=204,
    response_class=Response,
    tags=["configurations"],
    summary="Delete Configuration",
)
async def delete_configuration(
    config_id: str,
    principal: PrincipalDep,
    store: ProductsDep,
    project_id: ProjectId = None,
    organization_id: OrganizationId = None,
) -> Response:
    """Remove a configuration; batches started from it keep their own copy."""
    await store.delete_configuration(config_id, project_id=principal.project_id)
    return Response(status_code=204)


# ----------------------------------------------------------- webhook configs


def _check_url(url: str, settings: SettingsDep) -> None:
    check_target(url, allow_private=settings.webhook_allow_private_targets, resolve=False)


@router.post(
    "/api/v1/beta/webhook-configs",
    response_model=WebhookConfigResponse,
    tags=["webhook-configs"],
    summary="Create Webhook Config",
)
async def create_webhook_config(
    body: WebhookConfigCreate,
    principal: PrincipalDep,
    store: ProductsDep,
    settings: SettingsDep,
    project_id: ProjectId = None,
    organization_id: OrganizationId = None,
) -> WebhookConfigResponse:
    """Save an endpoint batches can name in ``webhook_configuration_ids``."""
    _check_url(body.webhook_url, settings)
    now = utcnow()
    row = await store.add_webhook_config(
        WebhookConfigRow(
            id=new_id(WEBHOOK_CONFIG_PREFIX),
            project_id=principal.project_id,
            webhook_url=body.webhook_url,
            events_json=compact_json(body.webhook_events) if body.webhook_events else None,
            headers_json=compact_json(body.webhook_headers) if body.webhook_headers else None,
            output_format=body.webhook_output_format,
            signing_secret=body.webhook_signing_secret,
            created_at=now,
            updated_at=now,
        )
    )
    return products.webhook_config_response(row)


@router.get(
    "/api/v1/beta/webhook-configs",
    response_model=list[WebhookConfigResponse],
    tags=["webhook-configs"],
    summary="List Webhook Configs",
)
async def list_webhook_configs(
    principal: PrincipalDep,
    store: ProductsDep,
    project_id: ProjectId = None,
    organization_id: OrganizationId = None,
) -> list[WebhookConfigResponse]:
    """Every webhook configuration of the project, newest first (at most 1,000)."""
    rows, _ = await store.list_webhook_configs(project_id=principal.project_id, page_size=1000)
    return [products.webhook_config_response(row) for row in rows]


@router.get(
    "/api/v2/webhook-configs",
    response_model=WebhookConfigPage,
    tags=["webhook-configs"],
    summary="List Webhook Configs (paginated)",
)
async def list_webhook_configs_paginated(
    principal: PrincipalDep,
    store: ProductsDep,
    include_total: bool = False,
    page_size: PageSize = 50,
    page_token: PageToken = None,
    project_id: ProjectId = None,
    organization_id: OrganizationId = None,
) -> WebhookConfigPage:
    """The project's webhook configurations, a page at a time."""
    rows, token = await store.list_webhook_configs(
        project_id=principal.project_id, page_size=page_size, page_token=page_token
    )
    total = await store.count_webhook_configs(project_id=principal.project_id)
    return WebhookConfigPage(
        items=[products.webhook_config_response(row) for row in rows],
        next_page_token=token,
        total_size=total if include_total else None,
    )


@router.get(
    "/api/v1/beta/webhook-configs/{config_id}",
    response_model=WebhookConfigResponse,
    tags=["webhook-configs"],
    summary="Get Webhook Config",
)
async def get_webhook_config(
    config_id: str,
    principal: PrincipalDep,
    store: ProductsDep,
    project_id: ProjectId = None,
    organization_id: OrganizationId = None,
) -> WebhookConfigResponse:
    """One webhook configuration (its secret never shown)."""
    row = await store.get_webhook_config(config_id, project_id=principal.project_id)
    return products.webhook_config_response(row)


@router.put(
    "/api/v1/beta/webhook-configs/{config_id}",
    response_model=WebhookConfigResponse,
    tags=["webhook-configs"],
    summary="Update Webhook Config",
)
async def update_webhook_config(
    config_id: str,
    body: WebhookConfigUpdate,
    principal: PrincipalDep,
    store: ProductsDep,
    settings: SettingsDep,
    project_id: ProjectId = None,
    organization_id: OrganizationId = None,
) -> WebhookConfigResponse:
    """Change the fields given; the others stay."""
    changes: dict[str, Any] = {}
    given = body.model_fields_set
    if "webhook_url" in given and body.webhook_url is not None:
        _check_url(body.webhook_url, settings)
        changes["webhook_url"] = body.webhook_url
    if "webhook_events" in given:
        changes["events_json"] = compact_json(body.webhook_events) if body.webhook_events else None
    if "webhook_headers" in given:
        changes["headers_json"] = (
            compact_json(body.webhook_headers) if body.webhook_headers else None
        )
    if "webhook_output_format" in given:
        changes["output_format"] = body.webhook_output_format
    if "webhook_signing_secret" in given:
        changes["signing_secret"] = body.webhook_signing_secret
    row = await store.update_webhook_config(
        config_id, project_id=principal.project_id, changes=changes
    )
    return products.webhook_config_response(row)


@router.delete(
    "/api/v1/beta/webhook-configs/{config_id}",
    status_code=204,
    response_class=Response,
    tags=["webhook-configs"],
    summary="Delete Webhook Config",
)
async def delete_webhook_config(
    config_id: str,
    principal: PrincipalDep,
    store: ProductsDep,
    project_id: ProjectId = None,
    organization_id: OrganizationId = None,
) -> Response:
    """Remove a webhook configuration; batches created with it keep their copy."""
    await store.delete_webhook_config(config_id, project_id=principal.project_id)
    return Response(status_code=204)
