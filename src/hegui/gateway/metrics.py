"""Prometheus metrics, one registry per app so several apps (tests, workers) never collide.

Labels are route/status/action/risk ids only — never user ids or text.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter("hegui_requests_total", "Requests by route and status", ["route", "status"], registry=r)
        self.latency = Histogram("hegui_request_seconds", "Gateway time per request (whole)", ["route"], registry=r,
                                 buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60))
        self.moderation = Counter("hegui_moderation_total", "Moderation verdicts", ["role", "action"], registry=r)
        self.risks = Counter("hegui_risk_total", "Decisive risk ids", ["role", "risk"], registry=r)
        self.moderation_seconds = Histogram("hegui_moderation_seconds", "Guard time per check", ["role"], registry=r,
                                            buckets=(0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.1, 0.5))
        self.fail_closed = Counter("hegui_fail_closed_total", "Requests refused because a safeguard failed", ["reason"], registry=r)
        self.upstream_errors = Counter("hegui_upstream_errors_total", "Upstream failures", ["kind"], registry=r)
        self.stream_stops = Counter("hegui_stream_stops_total", "Streams stopped by output moderation", registry=r)
        self._per_request: dict[tuple[str, int], tuple[Any, Any]] = {}

    def observe_request(self, route: str, status: int, seconds: float) -> None:
        """Count a request and its latency. The labelled children are kept, not looked up through
        ``labels()`` (argument checks, a lock, a tuple) on every request."""
        pair = self._per_request.get((route, status))
        if pair is None:
            pair = (self.requests.labels(route, str(status)), self.latency.labels(route))
            if len(self._per_request) < 4096:
                self._per_request[(route, status)] = pair
        pair[0].inc()
        pair[1].observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)
