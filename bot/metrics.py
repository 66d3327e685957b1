"""Prometheus metrics of one application: counts and timings, never message content."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram


class Metrics:
    """The service's metrics on a registry of its own (one per app, so tests stay apart)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.decisions = Counter(
            "triage_decisions", "Decisions made, by action", ["action"], registry=self.registry
        )
        self.latency = Histogram(
            "triage_seconds", "Time to triage one message", registry=self.registry
        )
        self.batch_size = Histogram(
            "triage_batch_size",
            "Messages triaged together in one NLP pass",
            buckets=(1, 2, 4, 8, 16, 32, 64),
            registry=self.registry,
        )
        self.webhooks = Counter(
            "triage_webhook_messages",
            "Webhook messages received, by platform and outcome (new, duplicate)",
            ["platform", "outcome"],
            registry=self.registry,
        )
        self.webhook_items_skipped = Counter(
            "triage_webhook_items_skipped",
            "Webhook items that could not be used, by platform and reason (a fixed label set)",
            ["platform", "reason"],
            registry=self.registry,
        )
        self.webhook_items_ignored = Counter(
            "triage_webhook_items_ignored",
            "Webhook items not for triage (echoes, receipts, reactions…), by platform and kind",
            ["platform", "kind"],
            registry=self.registry,
        )
        self.outbound = Counter(
            "triage_outbound_calls",
            "Calls to platform APIs, by platform, action kind and result",
            ["platform", "kind", "result"],
            registry=self.registry,
        )
        self.receipts_dropped = Counter(
            "triage_receipts_dropped",
            "Receipts that could not be decrypted or parsed",
            registry=self.registry,
        )
