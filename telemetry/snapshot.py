"""A typed view of in-process metrics, for the local host's diagnostics and the demo's panel.

The view is read back from the instruments themselves (an in-memory reader the local host
installs), so the instruments are the only counters: under the Functions worker the same
instruments go to Azure Monitor and no view exists.
"""

from __future__ import annotations

from typing import Annotated, Any

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import HistogramDataPoint, InMemoryMetricReader, NumberDataPoint
from pydantic import BaseModel, ConfigDict, Field

from telemetry.metrics import METER_NAME, MetricName, use_provider

_reader: InMemoryMetricReader | None = None

# An attribute value as OpenTelemetry allows it (bool before int: a bool stays a bool).
AttributeValue = bool | int | float | str


class _Point(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    attributes: dict[str, AttributeValue]


class CounterPoint(_Point):
    """A counter's (or up-down counter's) cumulative value for one set of attributes."""

    value: float


class HistogramPoint(_Point):
    """A histogram for one set of attributes; the percentiles are bucket bounds, null while empty."""

    count: int
    sum: float
    min: float | None
    max: float | None
    p50: float | None
    p95: float | None
    p99: float | None


MetricPoint = Annotated[CounterPoint | HistogramPoint, Field(union_mode="left_to_right")]
# Every instrument recorded so far: a metric is absent until it is first recorded.
MetricsView = dict[MetricName, list[MetricPoint]]


def install_local_reader() -> InMemoryMetricReader:
    """Record every instrument in memory (cumulative, the reader's default), and nowhere else."""
    global _reader
    if _reader is None:
        _reader = InMemoryMetricReader()
        use_provider(MeterProvider(metric_readers=[_reader]))
    return _reader


def _quantile(point: HistogramDataPoint, q: float) -> float | None:
    """Approximate quantile from the bucket counts (upper bound of the bucket)."""
    if not point.count:
        return None
    target = q * point.count
    seen = 0
    for bound, count in zip([*point.explicit_bounds, point.max], point.bucket_counts, strict=False):
        seen += count
        if seen >= target:
            return float(min(bound, point.max))
    return float(point.max)


def snapshot(reader: InMemoryMetricReader | None = None) -> MetricsView:
    """Every instrument of this app's meter that `reader` (by default the local one) has seen."""
    reader = reader or _reader
    out: MetricsView = {}
    data = reader.get_metrics_data() if reader is not None else None
    if data is None:
        return out
    known = {str(name) for name in MetricName}
    for resource in data.resource_metrics:
        for scope in resource.scope_metrics:
            if scope.scope.name != METER_NAME:
                continue
            for metric in scope.metrics:
                if metric.name not in known:
                    continue
                points = out.setdefault(MetricName(metric.name), [])
                for point in metric.data.data_points:
                    attributes: dict[str, Any] = dict(point.attributes or {})
                    if isinstance(point, NumberDataPoint):
                        points.append(CounterPoint(attributes=attributes, value=point.value))
                    elif isinstance(point, HistogramDataPoint):
                        points.append(
                            HistogramPoint(
                                attributes=attributes,
                                count=point.count,
                                sum=point.sum,
                                min=point.min if point.count else None,
                                max=point.max if point.count else None,
                                p50=_quantile(point, 0.5),
                                p95=_quantile(point, 0.95),
                                p99=_quantile(point, 0.99),
                            )
                        )
    return out


def total(view: MetricsView, name: MetricName, **match: AttributeValue) -> float:
    """Sum of a counter's values (or a histogram's counts) over the points whose attributes match."""
    return sum(
        float(p.value if isinstance(p, CounterPoint) else p.count)
        for p in view.get(name, [])
        if all(p.attributes.get(k) == v for k, v in match.items())
    )
