"""The web config's reload state, read at each scrape (like Prometheus's
``prometheus_config_last_reload_successful``): a refused reload keeps the last good
config, and this is where a failed one shows."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from exporter.web.access import ReloadStatus


class WebReloadCollector(Collector):
    def __init__(self, status: Callable[[], ReloadStatus]) -> None:
        self.status = status

    def collect(self) -> Iterator[Metric]:
        status = self.status()
        ok = GaugeMetricFamily(
            "aws_iam_exporter_web_config_last_reload_successful",
            "1 if the last load of --web.config.file was applied, 0 if it was refused "
            "(the last good config stays).",
        )
        ok.add_metric([], 1.0 if status.successful else 0.0)
        when = GaugeMetricFamily(
            "aws_iam_exporter_web_config_last_reload_success_timestamp_seconds",
            "When --web.config.file was last loaded successfully (start-up included).",
        )
        when.add_metric([], status.success_timestamp)
        failures = CounterMetricFamily(
            "aws_iam_exporter_web_config_reload_failures",
            "Loads of --web.config.file that were refused.",
        )
        failures.add_metric([], status.failures)
        yield from (ok, when, failures)
