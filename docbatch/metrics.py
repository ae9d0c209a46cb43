"""Prometheus metrics: docbatch's own, and the Temporal SDK's, on one ``/metrics``.

docbatch's metrics live in :data:`REGISTRY` (``prometheus_client``; the process, platform
and GC collectors included). The worker and the API each serve it on ``/metrics``. Items
are counted by outcome where the store ends them (:func:`item_ended`, the worker's store's
observer); engine time and bytes by the engine activity; queue lag and activities in
progress by the worker's interceptor (``docbatch.interceptors``); HTTP requests by the
API's middleware (``docbatch.api.metrics``).

The Temporal SDK's metrics (workflow and activity completions, latencies, slots, poller
and RPC counts) come from its Rust core, which can export them in three ways: an OTLP
push, its own Prometheus HTTP listener, or a :class:`~temporalio.runtime.MetricBuffer`
that Python drains. docbatch uses the buffer (:class:`TemporalSdkMetrics`): the SDK's
metrics are then ordinary samples of the same exposition, on the same port, served by
the same code as docbatch's, with no second listener to pick a port for (several
workers on one host, or ``--scale worker=N``, would fight over it) and no HTTP fetch on
every scrape that can fail on its own. The SDK's names are kept (``temporal_`` prefix,
durations in seconds); counters get Prometheus' ``_total`` suffix, as the SDK's own
exporter does with ``counters_total_suffix=True``.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from dataclasses import dataclass, field

import structlog
from prometheus_client import (
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    start_http_server,
)
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector
from temporalio.runtime import (
    BUFFERED_METRIC_KIND_COUNTER,
    BUFFERED_METRIC_KIND_GAUGE,
    MetricBuffer,
    MetricBufferDurationFormat,
    Runtime,
    TelemetryConfig,
)

from docbatch.logging import temporal_logging
from docbatch.models import ItemStatus
from docbatch.settings import Settings

log = structlog.get_logger("docbatch.metrics")

REGISTRY = CollectorRegistry()
"""docbatch's metrics (one set per process, as Prometheus scrapes processes)."""
for _collector in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
    # The same collectors as prometheus_client's default registry, on ours.
    REGISTRY.register(_collector)

LATENCY_BUCKETS = (
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0,
    600.0,
)  # fmt: skip
"""Buckets of latencies that span milliseconds (an RPC) to minutes (a queued task)."""
ENGINE_BUCKETS = (
    0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0,
)  # fmt: skip
"""Buckets of an engine's time on one document: a text file to a long scanned PDF."""

ITEMS = Counter(
    "docbatch_items",
    "Items that ended, by job type and outcome (completed, failed, cancelled, skipped)",
    ["job_type", "outcome"],
    registry=REGISTRY,
)
ENGINE_SECONDS = Histogram(
    "docbatch_engine_seconds",
    "Time of an engine call on one document, by job type (from asking the worker's engine "
    "pool to its answer: includes waiting for a free engine process when all are busy)",
    ["job_type"],
    buckets=ENGINE_BUCKETS,
    registry=REGISTRY,
)
PROCESSED_BYTES = Counter(
    "docbatch_processed_bytes",
    "Bytes of the documents the engines processed, by job type",
    ["job_type"],
    registry=REGISTRY,
)
ACTIVITY_QUEUE_LAG = Histogram(
    "docbatch_activity_queue_lag_seconds",
    "Time from an activity attempt being scheduled to a worker starting it, by activity type",
    ["activity_type"],
    buckets=LATENCY_BUCKETS,
    registry=REGISTRY,
)
ACTIVITIES_IN_PROGRESS = Gauge(
    "docbatch_activities_in_progress",
    "Activities this worker is running now, by activity type",
    ["activity_type"],
    registry=REGISTRY,
)
HTTP_REQUESTS = Counter(
    "docbatch_http_requests",
    "HTTP requests the API answered, by method, route template and status code",
    ["method", "route", "status"],
    registry=REGISTRY,
)
HTTP_LATENCY = Histogram(
    "docbatch_http_request_duration_seconds",
    "Time the API took to answer, by method and route template",
    ["method", "route"],
    buckets=LATENCY_BUCKETS,
    registry=REGISTRY,
)


def item_ended(job_type: str, status: ItemStatus, count: int = 1) -> None:
    """Count ``count`` items of a job type that ended with ``status`` (the outcome).

    The worker's store observer (``Store.open(url, observer=item_ended)``): the store
    calls it where items end, after the change is committed and only for the items that
    moved, whichever workflow or activity asked for it. So the counts match the jobs' own
    counters (the observability tests compare them).
    """
    ITEMS.labels(job_type, status.value).inc(count)


def engine_ran(job_type: str, seconds: float, size_bytes: int) -> None:
    """Record one engine call: its time and the size of the document it read."""
    ENGINE_SECONDS.labels(job_type).observe(seconds)
    PROCESSED_BYTES.labels(job_type).inc(size_bytes)


# ------------------------------------------------------------- Temporal SDK metrics


def _label_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@dataclass
class _HistogramState:
    buckets: list[int]
    sum: float = 0.0
    count: int = 0


@dataclass
class _Family:
    name: str
    documentation: str
    kind: int
    values: dict[tuple[tuple[str, str], ...], float] = field(default_factory=dict)
    histograms: dict[tuple[tuple[str, str], ...], _HistogramState] = field(default_factory=dict)


class TemporalSdkMetrics(Collector):
    """The Temporal SDK's metrics, drained from a ``MetricBuffer`` into Prometheus samples.

    Give :attr:`runtime` to the client the worker (or API) connects with; register this
    collector where ``/metrics`` is served. The buffer is drained on every scrape and
    every ``drain_every`` seconds meanwhile (:meth:`draining`), so it never fills up:
    a full buffer would drop updates. Counters are summed from the SDK's deltas, gauges
    keep the last value, and histograms count the recorded values into fixed buckets.
    """

    def __init__(
        self,
        *,
        buffer_size: int = 100_000,
        buckets: Sequence[float] = LATENCY_BUCKETS,
    ) -> None:
        self._buffer = MetricBuffer(buffer_size, MetricBufferDurationFormat.SECONDS)
        self.runtime = Runtime(
            telemetry=TelemetryConfig(logging=temporal_logging(), metrics=self._buffer)
        )
        """The SDK runtime whose metrics this collects (one thread pool; make one per process)."""
        self._bounds = tuple(sorted(buckets))
        self._families: dict[str, _Family] = {}
        self._lock = threading.Lock()

    def drain(self) -> None:
        """Fold the updates buffered since the last drain into the totals."""
        with self._lock:
            for update in self._buffer.retrieve_updates():
                metric = update.metric
                family = self._families.get(metric.name)
                if family is None:
                    family = _Family(metric.name, metric.description or metric.name, metric.kind)
                    self._families[metric.name] = family
                labels = tuple(
                    sorted((key, _label_value(value)) for key, value in update.attributes.items())
                )
                value = float(update.value)
                if family.kind == BUFFERED_METRIC_KIND_COUNTER:
                    family.values[labels] = family.values.get(labels, 0.0) + value
                elif family.kind == BUFFERED_METRIC_KIND_GAUGE:
                    family.values[labels] = value
                else:
                    state = family.histograms.get(labels)
                    if state is None:
                        state = _HistogramState(buckets=[0] * len(self._bounds))
                        family.histograms[labels] = state
                    for index, bound in enumerate(self._bounds):
                        if value <= bound:
                            state.buckets[index] += 1
                            break
                    state.sum += value
                    state.count += 1

    def collect(self) -> Iterator[Metric]:
        """The SDK's metrics as Prometheus metric families (drains the buffer first)."""
        self.drain()
        with self._lock:
            families = [self._family_metric(family) for family in self._families.values()]
        yield from families

    def _family_metric(self, family: _Family) -> Metric:
        if family.kind == BUFFERED_METRIC_KIND_COUNTER:
            metric = Metric(family.name, family.documentation, "counter")
            for labels, value in family.values.items():
                metric.add_sample(f"{family.name}_total", dict(labels), value)
        elif family.kind == BUFFERED_METRIC_KIND_GAUGE:
            metric = Metric(family.name, family.documentation, "gauge")
            for labels, value in family.values.items():
                metric.add_sample(family.name, dict(labels), value)
        else:
            metric = Metric(family.name, family.documentation, "histogram")
            for labels, state in family.histograms.items():
                cumulative = 0
                for bound, count in zip(self._bounds, state.buckets, strict=True):
                    cumulative += count
                    metric.add_sample(
                        f"{family.name}_bucket",
                        {**dict(labels), "le": repr(bound)},
                        cumulative,
                    )
                metric.add_sample(
                    f"{family.name}_bucket", {**dict(labels), "le": "+Inf"}, state.count
                )
                metric.add_sample(f"{family.name}_sum", dict(labels), state.sum)
                metric.add_sample(f"{family.name}_count", dict(labels), state.count)
        return metric

    @contextlib.asynccontextmanager
    async def draining(self, every: float = 1.0) -> AsyncIterator[None]:
        """Drain the buffer every ``every`` seconds while the block runs."""

        async def loop() -> None:
            while True:
                await asyncio.sleep(every)
                self.drain()

        task = asyncio.create_task(loop())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


class _Forward(Collector):
    """Collects another registry's metrics (so an endpoint can combine registries)."""

    def __init__(self, source: CollectorRegistry) -> None:
        self._source = source

    def collect(self) -> Iterable[Metric]:
        return self._source.collect()


def endpoint_registry(sdk: TemporalSdkMetrics | None = None) -> CollectorRegistry:
    """What one ``/metrics`` serves: docbatch's :data:`REGISTRY` plus the SDK's metrics."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Forward(REGISTRY))
    if sdk is not None:
        registry.register(sdk)
    return registry


@contextlib.asynccontextmanager
async def serve_metrics(
    settings: Settings, sdk: TemporalSdkMetrics | None = None
) -> AsyncIterator[str | None]:
    """Serve ``/metrics`` on ``metrics_host:metrics_port`` while the block runs.

    Yields the endpoint's URL, or None (and serves nothing) when ``metrics_port`` is
    unset. The server answers from its own thread, so a scrape still gets an answer
    while the event loop is busy.
    """
    if settings.metrics_port is None:
        yield None
        return
    server, thread = start_http_server(
        settings.metrics_port, settings.metrics_host, endpoint_registry(sdk)
    )
    url = f"http://{settings.metrics_host}:{settings.metrics_port}/metrics"
    log.info("metrics endpoint listening", url=url, temporal_sdk=sdk is not None)
    try:
        if sdk is None:
            yield url
        else:
            async with sdk.draining():
                yield url
    finally:
        await asyncio.to_thread(server.shutdown)
        server.server_close()
        await asyncio.to_thread(thread.join)
