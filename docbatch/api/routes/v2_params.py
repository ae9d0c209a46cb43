"""Query parameters and dependencies the v2 routes share."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import Depends, Header, Query

from docbatch.api.deps import StoreDep
from docbatch.store.products import ProductStore

PageSize = Annotated[int, Query(ge=1, le=1000, description="Number of items per page")]
PageToken = Annotated[str | None, Query(max_length=2048, description="Pagination token")]
# Accepted as the reference's clients send them; the API key decides the project.
ProjectId = Annotated[str | None, Query(max_length=128)]
OrganizationId = Annotated[str | None, Query(max_length=128)]
IdempotencyKey = Annotated[
    str | None, Header(alias="Idempotency-Key", min_length=1, max_length=255)
]


def product_store(store: StoreDep) -> ProductStore:
    return ProductStore(store.database)


ProductsDep = Annotated[ProductStore, Depends(product_store)]


def compact_json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)
