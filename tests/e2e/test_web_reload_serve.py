"""The real ``serve`` process while its web config file is rewritten in place.

A client scrapes ``/metrics`` without credentials, back to back, while the file is
truncated and written back, left empty, left with comments only or with
``basic_auth_users:`` and no users. Not one of those scrapes may get a 200: every
such reload is refused (logged at error level) and the last good config stays.
"""

from __future__ import annotations

import base64
import http.client
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import bcrypt
import pytest

from tests.support.exporter_process import (
    ExporterProcess,
    Samples,
    exporter_process,
    parse_samples,
    sample_value,
)

pytestmark = pytest.mark.slow

PASSWORD = "right"
HASH = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
GOOD = f"# scraped by Prometheus\nbasic_auth_users:\n  prometheus: '{HASH}'\n"
CHECK_INTERVAL = 1.0  # exporter.web.access.CHECK_INTERVAL: how often the file is looked at


class Scraper:
    """Scrapes ``/metrics`` without credentials until stopped, counting the statuses."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.statuses: Counter[int | str] = Counter()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Scraper:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
        assert not self._thread.is_alive()

    def _run(self) -> None:
        deadline = time.monotonic() + 120  # bounded even if the test forgets to stop it
        while not self._stop.is_set() and time.monotonic() < deadline:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
            try:
                conn.request("GET", "/metrics")
                response = conn.getresponse()
                response.read()
                self.statuses[response.status] += 1
            except (OSError, http.client.HTTPException) as err:
                self.statuses[type(err).__name__] += 1
            finally:
                conn.close()


def rewrite_in_place(path: Path, interim: str, gap: float) -> None:
    """What ``cat new > web.yml`` or an editor without atomic saves does: the same
    inode truncated, ``interim`` visible for ``gap`` seconds, then the good text."""
    with path.open("w") as f:
        f.write(interim)
    time.sleep(gap)
    with path.open("w") as f:
        f.write(GOOD)


def authorized(exp: ExporterProcess) -> int:
    token = base64.b64encode(f"prometheus:{PASSWORD}".encode()).decode()
    return exp.get("/metrics", headers={"Authorization": f"Basic {token}"})[0]


@pytest.fixture
def exporter(tmp_path: Path) -> Iterator[tuple[ExporterProcess, Path]]:
    path = tmp_path / "web.yml"
    path.write_text(GOOD)
    with exporter_process("--demo", "--web.config.file", str(path)) as exp:
        assert exp.get("/metrics")[0] == 401
        assert authorized(exp) == 200
        yield exp, path


# (what a reader may see mid-rewrite, how long it stays visible)
REWRITES = [
    ("", 0.1),  # truncated, written back 100 ms later
    ("", 1.2),  # ... 1.2 s later: longer than one look at the file
    ("", 2 * CHECK_INTERVAL),  # left empty
    ("# basic_auth_users moved to vault\n", 2 * CHECK_INTERVAL),  # comments only
    ("basic_auth_users:\n", 2 * CHECK_INTERVAL),  # the key, no users
    ("{}\n", 2 * CHECK_INTERVAL),  # deliberately open: still needs a restart
    (GOOD[: GOOD.index("prometheus:") + 5], 2 * CHECK_INTERVAL),  # cut short mid-write
]


def test_rewriting_the_web_config_in_place_never_lets_an_unauthenticated_scrape_through(
    exporter: tuple[ExporterProcess, Path],
) -> None:
    exp, path = exporter
    started = time.monotonic()
    with Scraper(exp.port) as scraper:
        for interim, gap in REWRITES:
            rewrite_in_place(path, interim, gap)
            time.sleep(1.5 * CHECK_INTERVAL)  # the written-back file is looked at again
    assert time.monotonic() - started < 45
    print(f"unauthenticated scrapes during the rewrites: {dict(scraper.statuses)}")
    assert scraper.statuses[200] == 0, scraper.statuses
    assert scraper.statuses[401] > 50, scraper.statuses  # the scraper really was scraping
    assert set(scraper.statuses) == {401}, scraper.statuses
    log = exp.log()
    assert 'level=error logger=exporter.web msg="web config not reloaded' in log
    assert "is empty" in log and "cannot switch basic auth off" in log
    assert authorized(exp) == 200  # the last good config is in force
    assert exp.proc.poll() is None


def reload_samples(exp: ExporterProcess) -> Samples:
    token = base64.b64encode(f"prometheus:{PASSWORD}".encode()).decode()
    status, _, body = exp.get("/metrics", headers={"Authorization": f"Basic {token}"})
    assert status == 200
    return parse_samples(body.decode())


def test_a_refused_reload_shows_in_the_metrics(
    exporter: tuple[ExporterProcess, Path],
) -> None:
    """The last good config stays, and the reload metrics say the new one was refused."""
    exp, path = exporter
    ok = reload_samples(exp)
    assert sample_value(ok, "aws_iam_exporter_web_config_last_reload_successful") == 1
    assert sample_value(ok, "aws_iam_exporter_web_config_reload_failures_total") == 0
    stamp = "aws_iam_exporter_web_config_last_reload_success_timestamp_seconds"
    before = sample_value(ok, stamp)
    assert before is not None and before > 0
    path.write_text("")
    deadline = time.monotonic() + 20
    got = ok
    while time.monotonic() < deadline:
        got = reload_samples(exp)
        if sample_value(got, "aws_iam_exporter_web_config_last_reload_successful") == 0:
            break
        time.sleep(0.2)
    assert sample_value(got, "aws_iam_exporter_web_config_last_reload_successful") == 0
    failures = sample_value(got, "aws_iam_exporter_web_config_reload_failures_total")
    assert failures is not None and failures >= 1
    assert sample_value(got, stamp) == before
