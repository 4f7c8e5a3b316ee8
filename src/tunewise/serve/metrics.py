"""Prometheus metrics of one server (its own registry, so several apps never collide)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class ServerMetrics:
    def __init__(self):
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "tunewise_requests", "HTTP requests answered", ["endpoint", "status"], registry=r
        )
        self.latency = Histogram(
            "tunewise_request_seconds",
            "Time to answer a request",
            ["endpoint"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=r,
        )
        self.errors = Counter(
            "tunewise_errors", "Requests answered with an error", ["endpoint", "type"], registry=r
        )
        self.batch_size = Histogram(
            "tunewise_batch_size",
            "Texts per forward pass",
            ["model"],
            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
            registry=r,
        )
        self.queue_depth = Gauge(
            "tunewise_queue_depth", "Texts (generation: requests) waiting", ["model"], registry=r
        )
        self.items = Counter(
            "tunewise_items", "Texts processed (prompts for generation)", ["model"], registry=r
        )
