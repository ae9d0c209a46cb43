"""What a v2 job's webhook events carry."""

from __future__ import annotations

from typing import Any

from docbatch.products.views import batch_response, is_single, product_job
from docbatch.store import Store
from docbatch.store.products import ProductStore
from docbatch.store.tables import JobRow


async def event_body(store: Store, job: JobRow) -> dict[str, Any]:
    """A one-file product job's event carries the job; a batch's, the batch."""
    if is_single(job):
        items = await ProductStore(store.database).items_of(job.id)
        shown = product_job(job, items[0]).model_dump(mode="json")
        return {"job_id": shown["id"], "status": shown["status"], "job": shown}
    batch = batch_response(job).model_dump(mode="json")
    return {"batch_id": job.id, "status": batch["status"], "batch": batch}
