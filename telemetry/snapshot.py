"""A JSON view of in-process metrics, for the local host's diagnostics and the demo's panel."""

from __future__ import annotations

from typing import Any

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import HistogramDataPoint, InMemoryMetricReader, NumberDataPoint

from telemetry.metrics import use_provider

_reader: InMemoryMetricReader | None = None


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


def snapshot(reader: InMemoryMetricReader | None = None) -> dict[str, list[dict[str, Any]]]:
    """{metric name: [{attributes, value} or {attributes, count, sum, min, max, p50, p95}]}."""
    reader = reader or _reader
    if reader is None:
        return {}
    data = reader.get_metrics_data()
    out: dict[str, list[dict[str, Any]]] = {}
    if data is None:
        return out
    for resource in data.resource_metrics:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                points = out.setdefault(metric.name, [])
                for point in metric.data.data_points:
                    attributes = dict(point.attributes or {})
                    if isinstance(point, NumberDataPoint):
                        points.append({"attributes": attributes, "value": point.value})
                    elif isinstance(point, HistogramDataPoint):
                        points.append(
                            {
                                "attributes": attributes,
                                "count": point.count,
                                "sum": point.sum,
                                "min": point.min if point.count else None,
                                "max": point.max if point.count else None,
                                "p50": _quantile(point, 0.5),
                                "p95": _quantile(point, 0.95),
                            }
                        )
    return out


def total(view: dict[str, list[dict[str, Any]]], name: str, **match: Any) -> float:
    """Sum of a counter's points whose attributes match."""
    return sum(
        float(p.get("value", p.get("count", 0)))
        for p in view.get(name, [])
        if all(p["attributes"].get(k) == v for k, v in match.items())
    )
