"""Publication is coalesced: at once after a round, early only for a slow account."""

from __future__ import annotations

import time
from datetime import datetime, timezone

from exporter.daemon.publisher import Publisher
from exporter.daemon.snapshot import Snapshot


def publisher(running: list[float | None]) -> tuple[Publisher, list[int]]:
    built: list[int] = []

    def build(generation: int) -> Snapshot:
        built.append(generation)
        return Snapshot((), datetime.now(timezone.utc), generation)

    return Publisher(build, lambda: running[0], slow_seconds=1.0), built


def wait_for(built: list[int], count: int, seconds: float) -> bool:
    end = time.monotonic() + seconds
    while len(built) < count and time.monotonic() < end:
        time.sleep(0.01)
    return len(built) >= count


def test_a_change_is_published_at_once_when_no_refresh_runs() -> None:
    p, built = publisher([None])
    try:
        p.changed()
        assert wait_for(built, 1, 2) and p.snapshot is not None
        assert p.snapshot.generation == 1
    finally:
        p.close()


def test_changes_wait_for_the_end_of_a_round_that_goes_well() -> None:
    running: list[float | None] = [0.2]  # refreshes running, none slow
    p, built = publisher(running)
    try:
        p.changed()
        p.changed()
        assert not wait_for(built, 1, 0.5)
        running[0] = None  # the round is over: one rendering for both changes
        assert wait_for(built, 1, 2)
        assert not wait_for(built, 2, 0.3)
    finally:
        p.close()


def test_a_slow_refresh_does_not_hold_the_others_back() -> None:
    running: list[float | None] = [0.2]
    p, built = publisher(running)
    try:
        p.changed()
        assert not wait_for(built, 1, 0.3)
        running[0] = 1.5  # one refresh has run longer than slow_seconds
        assert wait_for(built, 1, 2)
    finally:
        p.close()


def test_flush_publishes_now_and_only_what_changed() -> None:
    p, built = publisher([5.0])
    try:
        assert p.flush() is None and built == []
        p.changed()
        first = p.flush()
        assert first is not None and first.generation == 1
        assert p.flush() is first and built == [1]
    finally:
        p.close()
