"""``gc_paused`` from several threads at once: the collector is off while any pause
lasts, and on again when the last one ends, whatever the interleaving."""

from __future__ import annotations

import gc
import sys
import threading
from collections.abc import Iterator
from types import ModuleType

import pytest

from exporter.core import report as report_module
from exporter.core.report import gc_paused


@pytest.fixture(autouse=True)
def _collector_on() -> Iterator[None]:
    gc.enable()
    yield
    gc.enable()  # never leave the rest of the suite without a collector


class _PreemptedGc(ModuleType):
    """``gc`` as seen by the pause, where the thread named ``late`` is preempted just
    before it disables the collector until the thread named ``early`` has left its
    pause: the worst interleaving of two threads, made certain."""

    def __init__(self, early_left: threading.Event, late_waits: threading.Event) -> None:
        super().__init__("gc")
        self.early_left = early_left
        self.late_waits = late_waits

    def isenabled(self) -> bool:
        return gc.isenabled()

    def enable(self) -> None:
        gc.enable()

    def disable(self) -> None:
        if threading.current_thread().name == "late":
            self.late_waits.set()
            self.early_left.wait(timeout=1)
        gc.disable()


def test_a_pause_preempted_before_it_disables_does_not_leave_the_collector_off(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    early_in, early_left, late_waits = threading.Event(), threading.Event(), threading.Event()
    monkeypatch.setattr(report_module, "gc", _PreemptedGc(early_left, late_waits))
    during: list[bool] = []

    def early() -> None:
        with gc_paused():
            early_in.set()
            late_waits.wait(timeout=0.3)  # (a correct pause may never let late wait)
        early_left.set()

    def late() -> None:
        early_in.wait(timeout=5)
        with gc_paused():
            during.append(gc.isenabled())

    threads = [threading.Thread(target=f, name=f.__name__) for f in (early, late)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert during == [False], "the collector ran inside a pause"
    assert gc.isenabled(), "both pauses are over but the collector stays off"


def test_overlapping_pauses_in_any_order_restore_the_collector() -> None:
    first, second = gc_paused(), gc_paused()
    first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)
    assert not gc.isenabled(), "one pause is still on"
    second.__exit__(None, None, None)
    assert gc.isenabled()


def test_a_collector_disabled_before_any_pause_stays_disabled() -> None:
    gc.disable()
    with gc_paused():
        pass
    assert not gc.isenabled()


def test_many_threads_pausing_at_once_leave_the_collector_on() -> None:
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible
    try:
        for _ in range(20):
            barrier = threading.Barrier(4)

            def work(barrier: threading.Barrier = barrier) -> None:
                barrier.wait()
                for _ in range(20):
                    with gc_paused():
                        pass

            threads = [threading.Thread(target=work) for _ in range(4)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert gc.isenabled()
    finally:
        sys.setswitchinterval(old)
