"""Prometheus metrics of one gateway, in a registry of its own (never the process-global one:
two gateways in one process, as in tests, must not share or clash).

Counters and histograms are updated where things happen (API submits, webhook deliveries,
modem submits reported by the worker through `observe_modem_submit`). Figures that live in the
store or the pool (messages by status, queue depth per lane, per-modem state, signal and
counters) are read when `/metrics` is scraped: `refresh()` takes a snapshot asynchronously,
then the collector renders it synchronously, as prometheus-client requires.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from gateway.modem_status import ModemStatus, SupervisorState
from gateway.store.models import Lane, MessageStatus

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
_MODEM_BUCKETS = (0.5, 1.0, 2.0, 3.0, 5.0, 8.0, 13.0, 20.0, 30.0, 60.0, 120.0)


class _StoreFigures(Protocol):
    async def counts_by_status(self) -> dict[str, int]: ...

    async def queue_depth(self) -> dict[Lane, int]: ...


class _PoolView(Protocol):
    def statuses(self) -> list[ModemStatus]: ...


@dataclass(slots=True)
class _Snapshot:
    by_status: dict[str, int] = field(default_factory=dict)
    depth: dict[Lane, int] = field(default_factory=dict)
    modems: Sequence[ModemStatus] = ()


class _StateCollector(Collector):
    def __init__(self, metrics: GatewayMetrics) -> None:
        self._metrics = metrics

    def collect(self) -> Iterable[Metric]:
        snap = self._metrics.snapshot
        messages = GaugeMetricFamily("smsgw_messages", "Messages in the store by status",
                                     labels=["status"])
        for status in MessageStatus:
            messages.add_metric([status.value], snap.by_status.get(status.value, 0))
        yield messages
        depth = GaugeMetricFamily("smsgw_queue_depth", "Messages ready to send, per lane",
                                  labels=["lane"])
        for lane in Lane:
            depth.add_metric([lane.value], snap.depth.get(lane, 0))
        yield depth
        state = GaugeMetricFamily("smsgw_modem_state", "1 for the state each modem is in",
                                  labels=["modem", "state"])
        signal = GaugeMetricFamily("smsgw_modem_signal_dbm", "Signal strength (dBm)",
                                   labels=["modem"])
        sent = CounterMetricFamily("smsgw_modem_messages_sent", "Messages sent, per modem",
                                   labels=["modem"])
        failed = CounterMetricFamily("smsgw_modem_send_failures", "Failed submits, per modem",
                                     labels=["modem"])
        received = CounterMetricFamily("smsgw_modem_messages_received",
                                       "Inbound SMS parts stored, per modem", labels=["modem"])
        for modem in snap.modems:
            name = modem.modem_id or modem.path
            for each in SupervisorState:
                state.add_metric([name, each.value], 1.0 if each is modem.state else 0.0)
            if modem.health is not None and modem.health.signal_dbm is not None:
                signal.add_metric([name], modem.health.signal_dbm)
            sent.add_metric([name], modem.counters.get("messages_sent", 0))
            failed.add_metric([name], modem.counters.get("send_failures", 0))
            received.add_metric([name], modem.counters.get("received", 0))
        yield from (state, signal, sent, failed, received)


class GatewayMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.snapshot = _Snapshot()
        self.submit_seconds = Histogram(
            "smsgw_api_submit_seconds",
            "Time from request to durable acceptance, per API route",
            ["route"], buckets=_LATENCY_BUCKETS, registry=self.registry,
        )
        self.accepted = Counter(
            "smsgw_api_messages_accepted", "Messages accepted through the API, per route",
            ["route"], registry=self.registry,
        )
        self.refused = Counter(
            "smsgw_api_messages_refused", "Messages refused by the API, per reason",
            ["reason"], registry=self.registry,
        )
        self.webhook_deliveries = Counter(
            "smsgw_webhook_deliveries",
            "Webhook and callback delivery attempts by outcome",
            ["format", "result"], registry=self.registry,
        )
        self.modem_submit_seconds = Histogram(
            "smsgw_modem_submit_seconds", "AT+CMGS round trip per message, per modem",
            ["modem"], buckets=_MODEM_BUCKETS, registry=self.registry,
        )
        self.registry.register(_StateCollector(self))
        self._routes: dict[str, tuple[Any, Any]] = {}

    def observe_submit(self, route: str, seconds: float, accepted: int) -> None:
        """One API submit: its latency and how many messages it accepted. Runs for every
        request, so each route's labelled children are looked up once (`labels()` takes a
        lock and builds a key each time)."""
        children = self._routes.get(route)
        if children is None:
            children = self._routes[route] = (self.submit_seconds.labels(route),
                                              self.accepted.labels(route))
        children[0].observe(seconds)
        if accepted:
            children[1].inc(accepted)

    def observe_modem_submit(self, modem_id: str, seconds: float) -> None:
        """For the worker: one message's submit time on a modem."""
        self.modem_submit_seconds.labels(modem_id).observe(seconds)

    async def refresh(self, store: _StoreFigures, pool: _PoolView) -> None:
        self.snapshot = _Snapshot(
            by_status=await store.counts_by_status(),
            depth=await store.queue_depth(),
            modems=pool.statuses(),
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)


__all__ = ["CONTENT_TYPE", "GatewayMetrics"]
